CREATE STREAM s (a STRING) FROM KAFKA (topic = 't);
--                                             ^ cannot read the SQL
