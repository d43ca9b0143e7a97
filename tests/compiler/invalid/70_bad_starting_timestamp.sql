CREATE STREAM s (a STRING) FROM KAFKA (topic = 't', starting_timestamp = '2024-13-01 10:00');
--                                                                       ^ option 'starting_timestamp' is not valid: '2024-13-01 10:00' is not an ISO timestamp
INSERT INTO KAFKA TOPIC 'out' SELECT a FROM s;
