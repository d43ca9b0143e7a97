CREATE STREAM s (
    a STRING
    b INT
--  ^ 
) FROM KAFKA (topic = 't');
