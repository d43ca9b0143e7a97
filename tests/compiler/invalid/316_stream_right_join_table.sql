CREATE STREAM orders (order_id STRING, product STRING) FROM KAFKA (topic = 'orders');
CREATE TABLE products (product STRING, category STRING, PRIMARY KEY (product))
FROM KAFKA (topic = 'products');

INSERT INTO KAFKA TOPIC 'out'
SELECT o.order_id, p.category FROM orders o RIGHT JOIN products p ON o.product = p.product;
--                                                     ^ RIGHT OUTER join of a stream to a static relation
