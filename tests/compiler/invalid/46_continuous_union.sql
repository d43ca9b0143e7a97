CREATE STREAM orders (order_id STRING, amount DOUBLE) FROM KAFKA (topic = 'orders');
CREATE STREAM refunds (order_id STRING, amount DOUBLE) FROM KAFKA (topic = 'refunds');

INSERT INTO KAFKA TOPIC 'out' WITH (trigger = 'continuous 1 second')
SELECT order_id, amount FROM orders
UNION ALL
SELECT order_id, -amount AS amount FROM refunds;
--     ^ continuous mode cannot run UNION ALL
