CREATE STREAM orders (order_id STRING) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out' WITH (delivery = 'exactly-once')
--                                             ^ is 'exactly-once', not one of at_least_once, exactly_once (did you mean 'exactly_once'?)
SELECT order_id FROM orders;
