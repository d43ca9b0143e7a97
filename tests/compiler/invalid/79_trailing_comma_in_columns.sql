CREATE STREAM s (a STRING, b INT,) FROM KAFKA (topic = 't');
--                              ^ a ',' with no column after it
