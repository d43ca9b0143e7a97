CREATE STREAM orders (order_id STRING, region STRING) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC ('orders-' || region) WITH (delivery = 'exactly_once')
--                                                             ^ delivery = 'exactly_once' needs a literal TOPIC
SELECT order_id, region FROM orders;
