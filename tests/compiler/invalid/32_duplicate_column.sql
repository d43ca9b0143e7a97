CREATE STREAM s (a STRING, b INT, a DOUBLE) FROM KAFKA (topic = 't');
--                                ^ column 'a' is declared twice
