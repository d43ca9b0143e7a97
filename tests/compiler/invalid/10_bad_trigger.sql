CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out' WITH (trigger = '10 parsecs')
--                                            ^ trigger '10 parsecs' is not a trigger
SELECT order_id FROM orders;
