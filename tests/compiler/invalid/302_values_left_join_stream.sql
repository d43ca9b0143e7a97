CREATE STREAM orders (order_id STRING, product STRING, ts TIMESTAMP) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out'
SELECT o.order_id, p.category FROM (VALUES ('a', 'x')) AS p(product, category)
LEFT JOIN orders o ON o.product = p.product;
--        ^ LEFT OUTER join of a stream to a static relation
