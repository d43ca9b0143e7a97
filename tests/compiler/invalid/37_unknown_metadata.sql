CREATE STREAM s (a STRING, t BIGINT METADATA FROM 'ofset') FROM KAFKA (topic = 't');
--                                                ^ unknown metadata field 'ofset'
