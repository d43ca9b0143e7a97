CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', on_error = 'dlq');
--                                                             ^ names none
