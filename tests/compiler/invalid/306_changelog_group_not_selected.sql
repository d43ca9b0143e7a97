CREATE STREAM payments (user_id STRING, amount DOUBLE) FROM KAFKA (topic = 'payments');

INSERT INTO KAFKA TOPIC 'spend' CHANGELOG KEY u
SELECT max(user_id) AS u, sum(amount) AS spent FROM payments GROUP BY lower(user_id);
--                                                                    ^ this grouping expression is not an output column
