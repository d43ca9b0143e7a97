CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', max_offsets_per_trigger = 'lots');
--                                                                            ^ must be a whole number
