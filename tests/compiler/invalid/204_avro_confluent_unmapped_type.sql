CREATE STREAM s (a BIGINT) FROM KAFKA (topic = 't');

INSERT INTO KAFKA TOPIC 'o' FORMAT avro-confluent WITH (auto_register = true)
--                                 ^ avro-confluent maps STRING, BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, BINARY, DATE, TIMESTAMP columns; not ARRAY<BIGINT>
SELECT array(a) AS xs FROM s;
