CREATE STREAM s (a BIGINT) FROM KAFKA (topic = 't');

INSERT INTO KAFKA TOPIC 'o' FORMAT avro-confluent WITH (auto_register = 'maybe') SELECT a FROM s;
--                                                                      ^ must be true or false
