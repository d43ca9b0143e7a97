CREATE STREAM orders (order_id STRING, product STRING, ts TIMESTAMP) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out'
SELECT o.order_id, p.category FROM orders o
RIGHT JOIN (VALUES ('a', 'x')) AS p(product, category) ON o.product = p.product;
--                  ^ RIGHT OUTER join of a stream to a static relation would emit the relation's unmatched rows
