CREATE STREAM s (a STRING, n INT, ts TIMESTAMP) FROM KAFKA (topic = 't');
INSERT INTO KAFKA TOPIC 'o' SELECT a FROM s WHERE n IN (SELECT n FROM s);
--                                                      ^ not supported on streams: a subquery over a stream
