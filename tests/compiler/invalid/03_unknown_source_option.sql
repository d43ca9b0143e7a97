CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', formt = 'json');
--                                                  ^ unknown source option 'formt'
