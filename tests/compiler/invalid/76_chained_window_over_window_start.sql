CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

CREATE STREAM per_minute AS
SELECT window, user_id, sum(amount) AS total
FROM orders GROUP BY window(event_time, '1 minute'), user_id;

INSERT INTO KAFKA TOPIC 'out'
SELECT user_id, max(total) AS best FROM per_minute
GROUP BY window(window.start, '1 hour'), user_id;
--       ^ reads stream 'per_minute', which aggregates already
