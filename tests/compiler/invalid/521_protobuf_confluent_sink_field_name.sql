CREATE STREAM s (a BIGINT) FROM KAFKA (topic = 't');

INSERT INTO KAFKA TOPIC 'o' FORMAT protobuf-confluent WITH (auto_register = true)
--                                 ^ column 'my a' is no Protobuf field name
SELECT a AS `my a` FROM s;
