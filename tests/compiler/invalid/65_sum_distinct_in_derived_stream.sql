CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    action STRING,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

CREATE STREAM per_minute AS
SELECT window, sum(DISTINCT amount) AS total
--             ^ sum(DISTINCT ...) is not supported on streams
FROM orders GROUP BY window(event_time, '1 minute');

INSERT INTO KAFKA TOPIC 'out'
SELECT window.start AS minute, total FROM per_minute;
