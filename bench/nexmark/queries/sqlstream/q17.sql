-- q17, auction statistics report: per auction and day, the bids in price ranges, and the
-- minimum, maximum, mean and total price. Rewritten: the specification groups by the day as
-- text (DATE_FORMAT), which is not an event-time window; here it is window(dateTime, '1 day')
-- and the day is its start.
INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT auction,
       date_format(window.start, 'yyyy-MM-dd') AS day,
       count(*) AS total_bids,
       count(*) FILTER (WHERE price < 10000) AS rank1_bids,
       count(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
       count(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
       min(price) AS min_price,
       max(price) AS max_price,
       avg(price) AS avg_price,
       sum(price) AS sum_price
FROM bid
GROUP BY auction, window(dateTime, '{{ var('day', '1 day') }}');
