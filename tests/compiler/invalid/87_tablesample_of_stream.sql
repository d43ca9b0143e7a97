CREATE STREAM s (a STRING, n INT, ts TIMESTAMP) FROM KAFKA (topic = 't');
INSERT INTO KAFKA TOPIC 'o' SELECT a FROM s TABLESAMPLE (10 PERCENT);
--                                          ^ not supported on streams: TABLESAMPLE of a stream
