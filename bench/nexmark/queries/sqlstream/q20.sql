-- q20, expand bid with auction: each bid on an auction of category 10 with that auction's
-- fields. An inner join without a time bound, as in the specification (state kept for ever).
INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT B.auction, B.bidder, B.price, B.channel, B.url, B.dateTime, B.extra,
       A.itemName, A.description, A.initialBid, A.reserve, A.dateTime AS auction_dateTime,
       A.expires, A.seller, A.category, A.extra AS auction_extra
FROM bid AS B
JOIN auction AS A ON B.auction = A.id
WHERE A.category = 10;
