-- q14, calculation: bids priced between 1M and 50M euros, with a time-of-day class and the
-- count of 'c' in extra (the kit's count_char UDF, here built-in string functions: a Java UDF
-- jar would be one more artifact to build).
CREATE TABLE q14 (
    auction      BIGINT,
    bidder       BIGINT,
    price        DECIMAL(23, 3),
    bidTimeType  STRING,
    `dateTime`   TIMESTAMP_LTZ(3),
    extra        STRING,
    c_counts     BIGINT
) WITH (${SINK});

INSERT INTO q14
SELECT
    auction,
    bidder,
    0.908 * price AS price,
    CASE
        WHEN HOUR(CAST(`dateTime` AS TIMESTAMP(3))) BETWEEN 8 AND 18 THEN 'dayTime'
        WHEN HOUR(CAST(`dateTime` AS TIMESTAMP(3))) <= 6
          OR HOUR(CAST(`dateTime` AS TIMESTAMP(3))) >= 20 THEN 'nightTime'
        ELSE 'otherTime'
    END AS bidTimeType,
    `dateTime`,
    extra,
    CAST(CHAR_LENGTH(extra) - CHAR_LENGTH(REPLACE(extra, 'c', '')) AS BIGINT) AS c_counts
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
