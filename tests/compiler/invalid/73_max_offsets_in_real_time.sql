CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', max_offsets_per_trigger = 100);
--                                                  ^ runs with trigger 'real_time', which refuses max_offsets_per_trigger of stream 's'
INSERT INTO KAFKA TOPIC 'out' WITH (trigger = real_time) SELECT a FROM s;
