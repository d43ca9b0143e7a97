CREATE STREAM s (a BIGINT) FROM KAFKA (topic = 't');

INSERT INTO KAFKA TOPIC 'o' FORMAT avro-confluent WITH (auto_register = true)
--                                 ^ avro-confluent cannot write column 'm' of type MAP<BIGINT, BIGINT>: an Avro map's keys are strings
SELECT map(a, a) AS m FROM s;
