CREATE STREAM s (a STRING) FROM KAFKA (format = 'json');
--            ^ names no topic
