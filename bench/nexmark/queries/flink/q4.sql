-- q4, average closing price per category. The kit's query is two unbounded aggregations (every
-- new bid updates an average), which a plain Kafka sink cannot take. Append-only rewrite, by
-- 10-second tumbling windows: a window join of each auction with the bids on it in the same
-- window that fall between its start and its expiry, the highest of them per auction (its
-- closing price in that window), then the average of those per category and window.
CREATE TABLE q4 (
    category    BIGINT,
    avg_final   BIGINT,
    window_end  TIMESTAMP_LTZ(3)
) WITH (${SINK});

CREATE TEMPORARY VIEW auction_bids AS
SELECT A.id, A.category, B.price, A.window_start, A.window_end, A.window_time
FROM (SELECT * FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(`dateTime`), ${TUMBLE}))) A
JOIN (SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), ${TUMBLE}))) B
  ON A.id = B.auction AND A.window_start = B.window_start AND A.window_end = B.window_end
WHERE B.`dateTime` BETWEEN A.`dateTime` AND A.expires;

CREATE TEMPORARY VIEW winning AS
SELECT id, category, MAX(price) AS final, window_start, window_end
FROM auction_bids
GROUP BY id, category, window_start, window_end;

INSERT INTO q4
SELECT category, AVG(final), CAST(window_end AS TIMESTAMP_LTZ(3))
FROM winning
GROUP BY category, window_start, window_end;
