CREATE STREAM s FROM KAFKA (topic = 't');
--            ^ stream 's' declares no columns

CREATE STREAM r FROM KAFKA (topic = 't', format = 'avro-confluent');
--            ^ subject 't-value' is not in schemas.lock.json
