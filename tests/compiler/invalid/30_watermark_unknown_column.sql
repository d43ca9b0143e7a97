CREATE STREAM s (
    a STRING,
    ts TIMESTAMP,
    WATERMARK FOR tss AS tss - INTERVAL '1' MINUTE
--                ^ the watermark is on 'tss'
) FROM KAFKA (topic = 't');
