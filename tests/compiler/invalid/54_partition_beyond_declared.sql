CREATE STREAM orders (
    order_id STRING,
    user_id BIGINT,
    amount DOUBLE
) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out' PARTITION pmod(user_id, 8) WITH (partitions = 6)
--                                      ^ PARTITION PMOD(user_id, 8) needs 8 partitions, but the sink declares partitions = 6
SELECT order_id, user_id FROM orders;
