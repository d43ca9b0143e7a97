CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'a' WITH (name = 'q') SELECT order_id FROM orders;
INSERT INTO KAFKA TOPIC 'b' WITH (name = 'q') SELECT order_id FROM orders;
-- error at col 1: two queries are named 'q'
