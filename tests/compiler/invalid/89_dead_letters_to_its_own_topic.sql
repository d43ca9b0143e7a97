CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', on_error = 'dlq', dlq_topic = 't');
--                                                                                ^ stream 's' sends its malformed records to topic 't', which it reads
INSERT INTO KAFKA TOPIC 'o' SELECT a FROM s;
