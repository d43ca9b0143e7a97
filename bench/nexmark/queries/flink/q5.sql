-- q5, hot items: the auctions with the most bids in each 10-second window sliding by 2 seconds.
-- The kit takes the maximum per window with a plain GROUP BY, an updating aggregation; here it
-- is a window aggregation over the first one's window_time (each 2-second tumbling window over
-- window_time holds exactly one sliding window), so every step is append-only.
CREATE TABLE q5 (
    auction  BIGINT,
    num      BIGINT
) WITH (${SINK});

CREATE TEMPORARY VIEW auction_bids AS
SELECT auction, COUNT(*) AS num, window_start AS starttime, window_end AS endtime, window_time
FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), ${HOP_SLIDE}, ${HOP_SIZE}))
GROUP BY auction, window_start, window_end, window_time;

CREATE TEMPORARY VIEW max_bids AS
SELECT MAX(num) AS maxn, starttime, endtime
FROM TABLE(TUMBLE(TABLE auction_bids, DESCRIPTOR(window_time), ${HOP_SLIDE}))
GROUP BY starttime, endtime, window_start, window_end;

INSERT INTO q5
SELECT AB.auction, AB.num
FROM auction_bids AS AB
JOIN max_bids AS MB
  ON AB.starttime = MB.starttime AND AB.endtime = MB.endtime AND AB.num >= MB.maxn;
