-- q1, currency conversion: each bid's price in euros.
CREATE TABLE q1 (
    auction     BIGINT,
    bidder      BIGINT,
    price       DECIMAL(23, 3),
    `dateTime`  TIMESTAMP_LTZ(3),
    extra       STRING
) WITH (${SINK});

INSERT INTO q1
SELECT auction, bidder, 0.908 * price AS price, `dateTime`, extra
FROM bid;
