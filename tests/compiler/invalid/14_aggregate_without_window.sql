CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out'
SELECT user_id, sum(amount) AS total FROM orders GROUP BY user_id;
--                                                        ^ not append-only: this aggregation is not grouped by an event-time window
