CREATE STREAM orders (id STRING, amount INT) FROM KAFKA (topic = 'orders');

DROP TABLE orders;
-- error at col 1: this statement (DROP) is not supported
