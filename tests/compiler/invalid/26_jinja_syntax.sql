CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out'
SELECT order_id FROM orders WHERE amount > {{ var('x', 1) };
--                                                        ^ 
