CREATE STREAM clicks FROM KAFKA (topic = 'clicks', format = 'json-confluent');
--            ^ subject 'clicks-value' is not in schemas.lock.json

INSERT INTO KAFKA TOPIC 'o' SELECT * FROM clicks;
