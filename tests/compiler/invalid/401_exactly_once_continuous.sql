CREATE STREAM orders (order_id STRING) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out' WITH (trigger = 'continuous 1 second', delivery = 'exactly_once')
--                                                                              ^ writes one Kafka transaction per micro-batch, and continuous mode has no micro-batches
SELECT order_id FROM orders;
