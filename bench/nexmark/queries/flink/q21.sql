-- q21, add channel id: a channel's number for the four known channels, else the channel_id
-- parameter of the bid's URL; bids with neither are dropped.
CREATE TABLE q21 (
    auction     BIGINT,
    bidder      BIGINT,
    price       BIGINT,
    channel     STRING,
    channel_id  STRING
) WITH (${SINK});

INSERT INTO q21
SELECT
    auction, bidder, price, channel,
    CASE LOWER(channel)
        WHEN 'apple' THEN '0'
        WHEN 'google' THEN '1'
        WHEN 'facebook' THEN '2'
        WHEN 'baidu' THEN '3'
        ELSE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2)
    END AS channel_id
FROM bid
WHERE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) IS NOT NULL
   OR LOWER(channel) IN ('apple', 'google', 'facebook', 'baidu');
