CREATE STREAM s FROM KAFKA (topic = 't', format = 'protobuf-confluent');
--            ^ subject 't-value' is not in schemas.lock.json
