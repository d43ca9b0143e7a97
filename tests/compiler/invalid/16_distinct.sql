CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out'
SELECT DISTINCT user_id FROM orders;
--              ^ not append-only: SELECT DISTINCT
