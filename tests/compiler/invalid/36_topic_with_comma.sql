CREATE STREAM s (a STRING) FROM KAFKA (topic = 'a,b');
--                                             ^ must be one topic name
