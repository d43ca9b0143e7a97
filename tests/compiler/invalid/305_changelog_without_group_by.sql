CREATE STREAM payments (user_id STRING, amount DOUBLE) FROM KAFKA (topic = 'payments');

INSERT INTO KAFKA TOPIC 'spend' CHANGELOG KEY user_id
--                              ^ CHANGELOG writes the changes of an aggregation, but this query has no GROUP BY
SELECT user_id, amount FROM payments;
