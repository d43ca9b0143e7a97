CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', format = 'jsn');
--                                                           ^ option 'format' is 'jsn'
