CREATE STREAM a (id STRING) FROM KAFKA (topic = 'a');
CREATE STREAM b (id STRING) FROM KAFKA (topic = 'b');

INSERT INTO KAFKA TOPIC 'out'
SELECT id FROM a INTERSECT SELECT id FROM b;
--                                ^ not append-only: INTERSECT removes duplicates
