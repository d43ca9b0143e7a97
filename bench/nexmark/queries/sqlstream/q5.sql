-- q5, hot items: the auctions with the most bids in each sliding window (10 s, every 2 s).
-- Rewritten: the specification joins the per-auction counts with their per-window maximum, a
-- join of two aggregations, which Spark cannot run in append mode. Here the counts are
-- aggregated again per window (a chained aggregation: each 10 s window is the 2 s bucket of its
-- window_time), keeping the auctions whose count is the maximum, all of them on a tie.
CREATE STREAM q5_counts AS
SELECT window, auction, count(*) AS num
FROM bid
GROUP BY window(dateTime, '{{ var('hop_size', '10 seconds') }}', '{{ var('hop_slide', '2 seconds') }}'), auction;

INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT top.auction, top.num
FROM (
    SELECT explode(filter(collect_list(named_struct('auction', auction, 'num', num)),
                          x -> x.num = max(num))) AS top
    FROM q5_counts
    GROUP BY window(window_time(window), '{{ var('hop_slide', '2 seconds') }}')
);
