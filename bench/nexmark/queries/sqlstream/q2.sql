-- q2, selection: the bids on a few auctions.
INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT auction, price
FROM bid
WHERE auction % 123 = 0;
