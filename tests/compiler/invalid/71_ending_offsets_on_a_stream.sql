CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', ending_offsets = '{"t": {"0": 100}}');
--                                                  ^ a streaming Kafka source cannot end: 'ending_offsets' is for a bounded run
INSERT INTO KAFKA TOPIC 'out' SELECT a FROM s;
