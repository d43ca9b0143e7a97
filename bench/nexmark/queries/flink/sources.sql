-- The three Nexmark streams of the bench's Kafka layout (one topic per event type, JSON values,
-- times as ISO-8601 UTC strings), as Flink tables. ${SOURCE} is the Kafka source's options,
-- filled in by bench/nexmark/flink_job.py (bounded to the end offsets at start for throughput,
-- unbounded from the latest offsets for latency). ${WATERMARK} and the queries' window sizes
-- (${TUMBLE}, ${HOP_SIZE}, ${HOP_SLIDE}, ${DAY}) are the bench's parameters (nexmark.reference
-- Params: 2 s, 10 s, 10 s every 2 s, 1 day), as INTERVAL literals.
-- `dateTime` is a TIMESTAMP_LTZ because Flink's ISO-8601 JSON format reads a trailing 'Z' only
-- into that type.

CREATE TABLE person (
    id            BIGINT,
    name          STRING,
    emailAddress  STRING,
    creditCard    STRING,
    city          STRING,
    state         STRING,
    `dateTime`    TIMESTAMP_LTZ(3),
    extra         STRING,
    WATERMARK FOR `dateTime` AS `dateTime` - ${WATERMARK}
) WITH (${SOURCE}, 'topic' = '${PERSON_TOPIC}');

CREATE TABLE auction (
    id            BIGINT,
    itemName      STRING,
    description   STRING,
    initialBid    BIGINT,
    reserve       BIGINT,
    `dateTime`    TIMESTAMP_LTZ(3),
    expires       TIMESTAMP_LTZ(3),
    seller        BIGINT,
    category      BIGINT,
    extra         STRING,
    WATERMARK FOR `dateTime` AS `dateTime` - ${WATERMARK}
) WITH (${SOURCE}, 'topic' = '${AUCTION_TOPIC}');

CREATE TABLE bid (
    auction       BIGINT,
    bidder        BIGINT,
    price         BIGINT,
    channel       STRING,
    url           STRING,
    `dateTime`    TIMESTAMP_LTZ(3),
    extra         STRING,
    WATERMARK FOR `dateTime` AS `dateTime` - ${WATERMARK}
) WITH (${SOURCE}, 'topic' = '${BID_TOPIC}');
