-- The three Nexmark streams, one topic each (bench/nexmark/README.md says why). Every query of
-- this folder is compiled together with this file; the topics, the watermark delay and the
-- window sizes are vars, so that the correctness check can use short windows on few events.

CREATE STREAM person (
    id           BIGINT,
    name         STRING,
    emailAddress STRING,
    creditCard   STRING,
    city         STRING,
    state        STRING,
    dateTime     TIMESTAMP,
    extra        STRING,
    WATERMARK FOR dateTime AS dateTime - INTERVAL {{ var('watermark', "'2' SECONDS") }}
) FROM KAFKA (topic = '{{ var('person_topic', 'nexmark-person') }}', format = 'json',
              starting_offsets = 'earliest');

CREATE STREAM auction (
    id          BIGINT,
    itemName    STRING,
    description STRING,
    initialBid  BIGINT,
    reserve     BIGINT,
    dateTime    TIMESTAMP,
    expires     TIMESTAMP,
    seller      BIGINT,
    category    BIGINT,
    extra       STRING,
    WATERMARK FOR dateTime AS dateTime - INTERVAL {{ var('watermark', "'2' SECONDS") }}
) FROM KAFKA (topic = '{{ var('auction_topic', 'nexmark-auction') }}', format = 'json',
              starting_offsets = 'earliest');

CREATE STREAM bid (
    auction  BIGINT,
    bidder   BIGINT,
    price    BIGINT,
    channel  STRING,
    url      STRING,
    dateTime TIMESTAMP,
    extra    STRING,
    WATERMARK FOR dateTime AS dateTime - INTERVAL {{ var('watermark', "'2' SECONDS") }}
) FROM KAFKA (topic = '{{ var('bid_topic', 'nexmark-bid') }}', format = 'json',
              starting_offsets = 'earliest');
