CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', 'kafka.key.deserializer' = 'x');
--                                                  ^ Spark does not allow the Kafka option 'kafka.key.deserializer'
