CREATE STREAM s (a BIGINT) FROM KAFKA (topic = 't', format = 'avro-confluent');
--                                                           ^ subject 't-value' is not in schemas.lock.json

INSERT INTO KAFKA TOPIC 'o' SELECT a FROM s;
