CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', starting_offsets = 'beginning');
--                                                                     ^ option 'starting_offsets' is not valid
