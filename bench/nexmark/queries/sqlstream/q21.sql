-- q21, add channel id: the channel's number, from its name for the four known channels, else
-- from the URL. Spark's regexp_extract gives '' where Flink's REGEXP_EXTRACT gives NULL (no
-- match), hence the nullif.
INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT auction, bidder, price, channel,
       CASE WHEN lower(channel) = 'apple' THEN '0'
            WHEN lower(channel) = 'google' THEN '1'
            WHEN lower(channel) = 'facebook' THEN '2'
            WHEN lower(channel) = 'baidu' THEN '3'
            ELSE nullif(regexp_extract(url, '(&|^)channel_id=([^&]*)', 2), '') END AS channel_id
FROM bid
WHERE nullif(regexp_extract(url, '(&|^)channel_id=([^&]*)', 2), '') IS NOT NULL
   OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu');
