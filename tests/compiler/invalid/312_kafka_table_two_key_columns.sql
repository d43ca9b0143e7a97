CREATE TABLE prices (product STRING, region STRING, price DOUBLE, PRIMARY KEY (product, region))
--                                                                             ^ a Kafka table is keyed by its record key
FROM KAFKA (topic = 'prices');
