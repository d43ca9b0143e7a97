CREATE STREAM s (a BIGINT) FROM KAFKA (topics = 't1,t2', format = 'avro-confluent');
--                                                                ^ which registry subject holds the value's schema? the topic is not one name

INSERT INTO KAFKA TOPIC 'o' SELECT a FROM s;
