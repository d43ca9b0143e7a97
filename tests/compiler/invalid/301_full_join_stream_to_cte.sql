CREATE STREAM orders (order_id STRING, product STRING, ts TIMESTAMP) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out'
WITH p AS (SELECT * FROM VALUES ('a', 'x') AS t(product, category))
SELECT o.order_id, p.category FROM orders o FULL JOIN p ON o.product = p.product;
--                                                    ^ FULL OUTER join of a stream to a static relation
