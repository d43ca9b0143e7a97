-- q0, pass-through: every bid, decoded and written again (the cost of reading and writing).
INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT auction, bidder, price, dateTime, extra
FROM bid;
