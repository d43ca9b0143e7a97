-- Orders in Avro: the columns are the latest schema's (the subject orders-avro-value), each
-- record decoded with its own writer schema; what does not decode goes to the DLQ.
CREATE STREAM orders FROM KAFKA (
    topic = 'orders-avro',
    format = 'avro-confluent',
    starting_offsets = 'earliest',
    on_error = 'dlq',
    dlq_topic = 'orders-avro-dlq'
);

-- Big orders, written in Avro too: the schema is derived from the SELECT and registered under
-- big-orders-avro-value (auto_register in profiles.yml).
INSERT INTO KAFKA TOPIC 'big-orders-avro'
    KEY customer
    FORMAT avro-confluent
SELECT order_id, customer, amount, amount * 1.2 AS amount_with_tax
FROM orders
WHERE amount > 100;

-- The same big orders in JSON Schema's wire format (json-confluent): a JSON Schema derived from
-- the SELECT (each property nullable), registered under big-orders-json-value.
INSERT INTO KAFKA TOPIC 'big-orders-json'
    KEY customer
    FORMAT json-confluent
SELECT order_id, customer, amount, amount * 1.2 AS amount_with_tax
FROM orders
WHERE amount > 100;
