CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', on_tombstone = 'drop');
--                                                                 ^ option 'on_tombstone' is 'drop', not one of skip, dlq, fail

CREATE STREAM u (a STRING) FROM KAFKA (topic = 'u', on_tombstone = 'dlq');
--                                                                 ^ sends tombstones to a dead-letter topic but names none
