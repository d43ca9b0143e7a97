CREATE STREAM orders (id STRING, amount INT) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out' HEADERS $$('k' = id) SELECT id FROM orders;
--                                    ^ unexpected '$'
