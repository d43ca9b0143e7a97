CREATE STREAM s (a STRING, n INT, ts TIMESTAMP) FROM KAFKA (topic = 't');
INSERT INTO KAFKA TOPIC 'o' SELECT a FROM s CROSS JOIN s AS t;
--                                 ^ column 'a' is ambiguous: s.a, t.a
