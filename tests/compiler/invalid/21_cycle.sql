CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

CREATE STREAM x AS SELECT * FROM y;
--            ^ streams depend on each other in a cycle
CREATE STREAM y AS SELECT * FROM x;
