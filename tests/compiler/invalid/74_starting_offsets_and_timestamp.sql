CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', starting_offsets = 'earliest', starting_timestamp = '1714557600000');
--                                                                                                      ^ give one of starting_offsets and starting_timestamp
INSERT INTO KAFKA TOPIC 'out' SELECT a FROM s;
