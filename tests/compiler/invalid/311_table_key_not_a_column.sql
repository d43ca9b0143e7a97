CREATE TABLE products (product STRING, category STRING, PRIMARY KEY (produkt))
--                                                                   ^ the PRIMARY KEY names 'produkt', which is not a column of table 'products'
FROM KAFKA (topic = 'products');
