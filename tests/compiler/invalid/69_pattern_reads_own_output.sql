CREATE STREAM orders (
    order_id STRING,
    amount DOUBLE
) FROM KAFKA (topic_pattern = 'orders.*', on_error = 'dlq', dlq_topic = 'orders.DLT');
--                            ^ reads topic 'orders-enriched'
--                            ^ reads topic 'orders.DLT'

INSERT INTO KAFKA TOPIC 'orders-enriched'
SELECT order_id, amount * 2 AS doubled FROM orders;
