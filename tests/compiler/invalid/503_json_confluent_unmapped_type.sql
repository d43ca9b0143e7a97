CREATE STREAM s (a BIGINT) FROM KAFKA (topic = 't');

INSERT INTO KAFKA TOPIC 'o' FORMAT json-confluent WITH (auto_register = true)
--                                 ^ json-confluent cannot write column 'm' of type MAP<BIGINT, BIGINT>: a JSON object's keys are strings
SELECT map(a, a) AS m FROM s;
