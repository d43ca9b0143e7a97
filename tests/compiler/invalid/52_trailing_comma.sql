CREATE STREAM orders (id STRING, amount INT) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out' SELECT id, amount, FROM orders;
--                                             ^ an item of the list is missing
