-- q17, auction statistics per day. Append-only rewrite as in q15: a 1-day tumbling window.
-- avg_price is a DOUBLE, as in the sqlstream query and the reference (Flink's AVG of a BIGINT
-- is a BIGINT: the kit's sink type).
CREATE TABLE q17 (
    auction     BIGINT,
    `day`       STRING,
    total_bids  BIGINT,
    rank1_bids  BIGINT,
    rank2_bids  BIGINT,
    rank3_bids  BIGINT,
    min_price   BIGINT,
    max_price   BIGINT,
    avg_price   DOUBLE,
    sum_price   BIGINT
) WITH (${SINK});

INSERT INTO q17
SELECT
    auction,
    DATE_FORMAT(window_start, 'yyyy-MM-dd') AS `day`,
    COUNT(*) AS total_bids,
    COUNT(*) FILTER (WHERE price < 10000) AS rank1_bids,
    COUNT(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
    COUNT(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
    MIN(price) AS min_price,
    MAX(price) AS max_price,
    AVG(CAST(price AS DOUBLE)) AS avg_price,
    SUM(price) AS sum_price
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), ${DAY}))
GROUP BY auction, window_start, window_end;
