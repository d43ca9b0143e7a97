CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    action STRING,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

CREATE STREAM big AS
SELECT order_id, user_id, amount, event_time FROM orders WHERE amount > 100;

INSERT INTO KAFKA TOPIC 'out'
SELECT order_id, sum(amount) OVER (PARTITION BY user_id) AS running FROM big;
--               ^ window functions (OVER ...) are not supported on streams
