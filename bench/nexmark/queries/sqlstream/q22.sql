-- q22, get URL directories: the first three directories of each bid's URL. Flink's
-- SPLIT_INDEX(url, '/', 3) is the fourth part (0-based) or NULL; Spark's try_element_at is
-- 1-based and NULL past the end.
INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT auction, bidder, price, channel,
       try_element_at(split(url, '/'), 4) AS dir1,
       try_element_at(split(url, '/'), 5) AS dir2,
       try_element_at(split(url, '/'), 6) AS dir3
FROM bid;
