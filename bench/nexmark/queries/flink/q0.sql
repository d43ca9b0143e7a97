-- q0, pass-through: every bid, unchanged.
CREATE TABLE q0 (
    auction     BIGINT,
    bidder      BIGINT,
    price       BIGINT,
    `dateTime`  TIMESTAMP_LTZ(3),
    extra       STRING
) WITH (${SINK});

INSERT INTO q0
SELECT auction, bidder, price, `dateTime`, extra
FROM bid;
