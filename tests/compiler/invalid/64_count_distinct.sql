CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    action STRING,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out'
SELECT window.start AS minute, count(DISTINCT user_id) AS users
--                             ^ count(DISTINCT ...) is not supported on streams
FROM orders GROUP BY window(event_time, '1 minute');
