CREATE TABLE products (product STRING, category STRING, PRIMARY KEY (product))
FROM JDBC (url = 'jdbc:oracle:thin:@db:1521/shop', table = 'products');
--               ^ no JDBC driver for 'jdbc:oracle:thin:@db:1521/shop'
