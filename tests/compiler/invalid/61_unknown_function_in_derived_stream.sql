CREATE STREAM orders (
    order_id STRING,
    user_id STRING KEY,
    action STRING,
    amount DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = 'orders');

CREATE STREAM shouted AS
SELECT order_id, concat_ws('-', order_id, user_id) AS tag, to_jsn(named_struct('a', amount)) AS j FROM orders;
--                                                         ^ unknown function 'to_jsn'

INSERT INTO KAFKA TOPIC 'out' KEY md55(tag)
--                                ^ unknown function 'md55'
SELECT order_id, tag FROM shouted;
