CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    action STRING,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

CREATE STREAM sorted AS
SELECT order_id, amount FROM orders ORDER BY amount DESC;
--                                           ^ not append-only: ORDER BY

INSERT INTO KAFKA TOPIC 'out'
SELECT order_id, amount FROM sorted;
