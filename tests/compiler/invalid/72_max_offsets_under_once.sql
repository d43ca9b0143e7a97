CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', max_offsets_per_trigger = 100);
--                                                  ^ query 72_max_offsets_under_once_1 runs with trigger 'once', which ignores max_offsets_per_trigger
INSERT INTO KAFKA TOPIC 'out' WITH (trigger = 'once') SELECT a FROM s;
