CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', topic_pattern = 't.*');
--                                                                  ^ names its topics twice
