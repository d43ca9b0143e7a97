CREATE STREAM s (a STRING, n INT, ts TIMESTAMP) FROM KAFKA (topic = 't');
SELECT a, count(*) FROM s;
--     ^ 'a' is not in GROUP BY and not inside an aggregate function
