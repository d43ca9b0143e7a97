-- q4, average closing price per category. The kit's query is two unbounded aggregations (every
-- new bid updates an average), which a plain Kafka sink cannot take. Append-only rewrite, by
-- 10-second tumbling windows of the auctions' creation, as in the sqlstream query: an interval
-- join of each auction with the bids on it between its creation and its expiry (bounded by the
-- longest auction the generator makes, ${AUCTION_LENGTH}: Flink's interval join needs a
-- constant bound, and keeps the auction's time attribute), the highest of them per auction
-- (its closing price), then the average of those per category and window.
CREATE TABLE q4 (
    category    BIGINT,
    avg_final   DOUBLE,
    starttime   TIMESTAMP_LTZ(3)
) WITH (${SINK});

CREATE TEMPORARY VIEW auction_bids AS
SELECT A.id, A.category, B.price, A.`dateTime` AS auction_time
FROM auction AS A
JOIN bid AS B
  ON A.id = B.auction
  AND B.`dateTime` BETWEEN A.`dateTime` AND A.`dateTime` + ${AUCTION_LENGTH}
  AND B.`dateTime` <= A.expires;

CREATE TEMPORARY VIEW winning AS
SELECT id, category, MAX(price) AS final, window_start, window_end
FROM TABLE(TUMBLE(TABLE auction_bids, DESCRIPTOR(auction_time), ${TUMBLE}))
GROUP BY id, category, window_start, window_end;

INSERT INTO q4
SELECT category, AVG(CAST(final AS DOUBLE)), CAST(window_start AS TIMESTAMP_LTZ(3))
FROM winning
GROUP BY category, window_start, window_end;
