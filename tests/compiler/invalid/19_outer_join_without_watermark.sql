CREATE STREAM a (id STRING, ts TIMESTAMP) FROM KAFKA (topic = 'a');
CREATE STREAM b (id STRING, ts TIMESTAMP) FROM KAFKA (topic = 'b');

INSERT INTO KAFKA TOPIC 'out'
SELECT a.id, b.ts AS b_ts FROM a LEFT JOIN b ON a.id = b.id;
--                                         ^ LEFT OUTER join of streams needs a WATERMARK on both sides
