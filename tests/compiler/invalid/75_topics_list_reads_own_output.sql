CREATE STREAM orders (
    order_id STRING,
    amount DOUBLE
) FROM KAFKA (topics = 'orders-eu, orders-us, orders-big');
--                     ^ stream 'orders' reads topic 'orders-big' (topics = 'orders-eu, orders-us, orders-big'), which this project writes: query 'big'

INSERT INTO KAFKA TOPIC 'orders-big' WITH (name = 'big')
SELECT order_id, amount FROM orders WHERE amount > 100;
