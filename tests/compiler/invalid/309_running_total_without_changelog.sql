CREATE STREAM payments (user_id STRING, amount DOUBLE) FROM KAFKA (topic = 'payments');

INSERT INTO KAFKA TOPIC 'spend'
SELECT user_id, sum(amount) AS spent FROM payments GROUP BY user_id;
--                                                          ^ this aggregation is not grouped by an event-time window
