CREATE STREAM s (a STRING) WITH (topic = 't');
--                         ^ FROM KAFKA
