CREATE STREAM s (a STRING) FROM KAFKA (topc = 't', format = 'json');
--                                     ^ unknown source option 'topc'
