-- q8, monitor new users: people who opened an auction in the 10-second tumbling window in which
-- they registered (the kit's sink names the start `stime`; here `starttime`, as sqlstream's).
CREATE TABLE q8 (
    id     BIGINT,
    name   STRING,
    starttime  TIMESTAMP_LTZ(3)
) WITH (${SINK});

INSERT INTO q8
SELECT P.id, P.name, CAST(P.starttime AS TIMESTAMP_LTZ(3))
FROM (
    SELECT id, name, window_start AS starttime, window_end AS endtime
    FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(`dateTime`), ${TUMBLE}))
    GROUP BY id, name, window_start, window_end
) AS P
JOIN (
    SELECT seller, window_start AS starttime, window_end AS endtime
    FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(`dateTime`), ${TUMBLE}))
    GROUP BY seller, window_start, window_end
) AS A
  ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime;
