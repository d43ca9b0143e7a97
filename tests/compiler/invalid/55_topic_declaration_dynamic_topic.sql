CREATE STREAM orders (
    order_id STRING,
    user_id BIGINT,
    amount DOUBLE
) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC ('orders-' || order_id) WITH ('topic.cleanup.policy' = 'compact')
--                                                    ^ a topic declaration (partitions, replication_factor, 'topic.*') needs a literal topic
SELECT order_id FROM orders;
