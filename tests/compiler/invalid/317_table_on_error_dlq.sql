CREATE TABLE products (product STRING, category STRING, PRIMARY KEY (product))
FROM KAFKA (topic = 'products', on_error = 'dlq');
--                                         ^ on_error of a table is 'fail' or 'skip', not 'dlq'
