-- q7, highest bid: the bids at the highest price of their 10-second tumbling window. (The kit's
-- SELECT lists price before bidder while its sink has bidder first, so its sink gets them
-- swapped; here each column goes to its own name.)
CREATE TABLE q7 (
    auction     BIGINT,
    bidder      BIGINT,
    price       BIGINT,
    `dateTime`  TIMESTAMP_LTZ(3),
    extra       STRING
) WITH (${SINK});

INSERT INTO q7
SELECT B.auction, B.bidder, B.price, B.`dateTime`, B.extra
FROM bid AS B
JOIN (
    SELECT MAX(price) AS maxprice, window_start, window_end
    FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), ${TUMBLE}))
    GROUP BY window_start, window_end
) AS B1
  ON B.price = B1.maxprice
WHERE CAST(B.`dateTime` AS TIMESTAMP(3)) >= B1.window_start
  AND CAST(B.`dateTime` AS TIMESTAMP(3)) < B1.window_end;
