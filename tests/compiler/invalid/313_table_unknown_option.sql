CREATE TABLE products (product STRING, category STRING, PRIMARY KEY (product))
FROM KAFKA (topic = 'products', starting_offsets = 'latest');
--                              ^ unknown option 'starting_offsets' of a table FROM KAFKA
