CREATE STREAM s (a STRING, n INT, ts TIMESTAMP) FROM KAFKA (topic = 't');
SELECT a FROM s WHERE sum(n) > 1;
--                    ^ an aggregate function (sum) is not allowed in WHERE
