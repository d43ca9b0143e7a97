CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    action STRING,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out'
SELECT order_id, upperr(action) AS action FROM orders;
--               ^ unknown function 'upperr'
