CREATE STREAM s (a STRING, n INT, ts TIMESTAMP) FROM KAFKA (topic = 't');
SELECT a, count(*) FROM s GROUP BY a, max(n);
--                                    ^ an aggregate function (max) is not allowed in GROUP BY
