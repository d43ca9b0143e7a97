-- q7, highest bid: the highest bid of each 10 s window.
-- Rewritten: the specification joins the bids with their window's maximum price, which Spark
-- cannot run in append mode (a join with an aggregation). The maximum of a struct whose first
-- field is the price is the highest bid, in one aggregation; on a tie of prices the bid with the
-- highest auction, then bidder, wins (the specification writes every tied bid: with prices
-- drawn from a continuous range a tie is rare).
INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT top.auction, top.price, top.bidder, top.dateTime, top.extra
FROM (
    SELECT max(named_struct('price', price, 'auction', auction, 'bidder', bidder,
                            'dateTime', dateTime, 'extra', extra)) AS top
    FROM bid
    GROUP BY window(dateTime, '{{ var('tumble', '10 seconds') }}')
);
