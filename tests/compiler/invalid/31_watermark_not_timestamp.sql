CREATE STREAM s (
    a STRING,
    ts STRING,
    WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE
--                ^ is STRING, not a TIMESTAMP
) FROM KAFKA (topic = 't');
