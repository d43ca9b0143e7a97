CREATE TABLE products (product STRING, category STRING, PRIMARY KEY (product))
FROM KAFKA (topic = 'products');

INSERT INTO KAFKA TOPIC 'out' SELECT product, category FROM products;
--                                                          ^ this query reads only tables (products)
