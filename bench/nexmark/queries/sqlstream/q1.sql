-- q1, currency conversion: each bid's price in euros.
INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT auction, bidder, 0.908 * price AS price, dateTime, extra
FROM bid;
