CREATE STREAM s (a BIGINT) FROM KAFKA (topic = 't');

INSERT INTO KAFKA TOPIC 'o' FORMAT json-confluent SELECT a FROM s;
--                                 ^ subject 'o-value' has no schema, and auto_register is not set
