CREATE STREAM s (a STRING, n INT, ts TIMESTAMP) FROM KAFKA (topic = 't');
SELECT max(count(*)) FROM s GROUP BY a;
--         ^ an aggregate inside an aggregate (count in max)
