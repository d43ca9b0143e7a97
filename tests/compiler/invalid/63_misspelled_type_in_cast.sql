CREATE STREAM orders (order_id STRING, amount STRING) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out'
SELECT order_id, CAST(amount AS DECIMEL) AS amount FROM orders;
--                              ^ expected TYPE after CAST
