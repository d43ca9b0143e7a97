-- q22, get URL directories: the first three path parts of each bid's URL (SPLIT_INDEX counts
-- from 0: 'https:', '', the host, then the directories).
CREATE TABLE q22 (
    auction  BIGINT,
    bidder   BIGINT,
    price    BIGINT,
    channel  STRING,
    dir1     STRING,
    dir2     STRING,
    dir3     STRING
) WITH (${SINK});

INSERT INTO q22
SELECT
    auction, bidder, price, channel,
    SPLIT_INDEX(url, '/', 3) AS dir1,
    SPLIT_INDEX(url, '/', 4) AS dir2,
    SPLIT_INDEX(url, '/', 5) AS dir3
FROM bid;
