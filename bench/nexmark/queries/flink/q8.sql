-- q8, monitor new users: people who opened an auction in the 10-second tumbling window in which
-- they registered.
CREATE TABLE q8 (
    id     BIGINT,
    name   STRING,
    stime  TIMESTAMP_LTZ(3)
) WITH (${SINK});

INSERT INTO q8
SELECT P.id, P.name, CAST(P.starttime AS TIMESTAMP_LTZ(3))
FROM (
    SELECT id, name, window_start AS starttime, window_end AS endtime
    FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))
    GROUP BY id, name, window_start, window_end
) AS P
JOIN (
    SELECT seller, window_start AS starttime, window_end AS endtime
    FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))
    GROUP BY seller, window_start, window_end
) AS A
  ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime;
