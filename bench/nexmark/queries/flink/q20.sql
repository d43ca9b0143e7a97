-- q20, expand bid with auction: each bid on an auction of category 10 with that auction's
-- fields. A join of two append-only streams: append-only output.
CREATE TABLE q20 (
    auction           BIGINT,
    bidder            BIGINT,
    price             BIGINT,
    channel           STRING,
    url               STRING,
    `dateTime`        TIMESTAMP_LTZ(3),
    extra             STRING,
    itemName          STRING,
    description       STRING,
    initialBid        BIGINT,
    reserve           BIGINT,
    auction_dateTime  TIMESTAMP_LTZ(3),
    expires           TIMESTAMP_LTZ(3),
    seller            BIGINT,
    category          BIGINT,
    auction_extra     STRING
) WITH (${SINK});

INSERT INTO q20
SELECT
    B.auction, B.bidder, B.price, B.channel, B.url, B.`dateTime`, B.extra,
    A.itemName, A.description, A.initialBid, A.reserve, A.`dateTime`, A.expires, A.seller,
    A.category, A.extra
FROM bid AS B
JOIN auction AS A ON B.auction = A.id
WHERE A.category = 10;
