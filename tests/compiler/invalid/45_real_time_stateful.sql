CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out' WITH (trigger = real_time)
SELECT window.start AS window_start, sum(amount) AS total
FROM orders
GROUP BY window(event_time, '5 minutes');
--       ^ real-time mode cannot run an aggregation: it keeps state
