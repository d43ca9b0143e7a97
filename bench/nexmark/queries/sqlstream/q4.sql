-- q4, average price per category, append-only rewrite: the average winning bid of the
-- auctions of each category, per 10 s window of the auctions' creation. The specification
-- averages over all auctions ever closed, a total revised by every auction that closes, which a
-- Kafka topic cannot take back; per window, each average is final once the watermark passes.
-- An auction's winning bid is its highest bid between its creation and its expiry.
CREATE STREAM q4_winning AS
SELECT window AS auction_window, A.id, A.category, max(B.price) AS final
FROM auction AS A
JOIN bid AS B
  ON A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
GROUP BY window(A.dateTime, '{{ var('tumble', '10 seconds') }}'), A.id, A.category;

INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT window.start AS starttime, category, avg(final) AS avg_final
FROM q4_winning
GROUP BY window(window_time(auction_window), '{{ var('tumble', '10 seconds') }}'), category;
