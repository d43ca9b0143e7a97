CREATE STREAM s (a STRING, n INT, ts TIMESTAMP) FROM KAFKA (topic = 't');
SELECT a FROM s WHERE row_number() OVER (ORDER BY ts) = 1;
--                    ^ a window function (row_number) is not allowed in WHERE
