CREATE STREAM orders (
    order_id STRING,
    user_id BIGINT,
    amount DOUBLE
) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out' WITH (partitions = 'six')
--                                               ^ option 'partitions' must be a whole number, not 'six'
SELECT order_id FROM orders;

INSERT INTO KAFKA TOPIC 'out2' WITH (partitions = 0, name = 'q2')
--                                                ^ option 'partitions' must be a positive whole number
SELECT order_id FROM orders;
