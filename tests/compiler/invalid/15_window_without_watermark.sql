CREATE STREAM clicks (user_id STRING, ts TIMESTAMP) FROM KAFKA (topic = 'clicks');

INSERT INTO KAFKA TOPIC 'out'
SELECT user_id, count(*) AS n FROM clicks GROUP BY window(ts, '1 minute'), user_id;
--                                                 ^ the window over 'ts' never closes
