CREATE STREAM pays FROM KAFKA (topic = 'pays', format = 'avro-confluent');
--            ^ subject 'pays-value' is not in schemas.lock.json

CREATE STREAM big AS SELECT * FROM pays WHERE amount > 10;

INSERT INTO KAFKA TOPIC 'out' SELECT * FROM pays;

INSERT INTO KAFKA TOPIC 'out-big' SELECT * FROM big;
