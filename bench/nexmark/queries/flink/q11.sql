-- q11, user sessions: bids per bidder per session (a gap of 10 seconds ends a session), with
-- the SESSION window table function (the kit's GROUP BY SESSION(...) is the older syntax).
CREATE TABLE q11 (
    bidder     BIGINT,
    bid_count  BIGINT,
    starttime  TIMESTAMP_LTZ(3),
    endtime    TIMESTAMP_LTZ(3)
) WITH (${SINK});

INSERT INTO q11
SELECT bidder, COUNT(*) AS bid_count, CAST(window_start AS TIMESTAMP_LTZ(3)),
       CAST(window_end AS TIMESTAMP_LTZ(3))
FROM TABLE(SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(`dateTime`), ${TUMBLE}))
GROUP BY bidder, window_start, window_end;
