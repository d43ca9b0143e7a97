CREATE STREAM s (a BIGINT, t TIMESTAMP) FROM KAFKA (topic = 't');

INSERT INTO KAFKA TOPIC 'o' FORMAT protobuf-confluent WITH (auto_register = true)
--                                 ^ protobuf-confluent writes STRING, BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, BINARY columns; t is TIMESTAMP
SELECT a, t FROM s;
