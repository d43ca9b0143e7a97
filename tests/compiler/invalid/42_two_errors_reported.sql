CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', formt = 'json');
--                                                  ^ unknown source option 'formt'
CREATE STREAM r (a STRING) FROM KAFKA (topic = 'r', 'kafka.auto.offset.reset' = 'earliest');
--                                                  ^ Spark does not allow the Kafka option 'kafka.auto.offset.reset'
