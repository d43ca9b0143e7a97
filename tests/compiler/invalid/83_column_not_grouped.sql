CREATE STREAM s (a STRING, n INT, ts TIMESTAMP) FROM KAFKA (topic = 't');
SELECT a, n, count(*) FROM s GROUP BY a;
--        ^ 'n' is not in GROUP BY and not inside an aggregate function
