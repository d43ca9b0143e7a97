CREATE STREAM payments (user_id STRING, amount DOUBLE) FROM KAFKA (topic = 'payments');

INSERT INTO KAFKA TOPIC ('spend-' || user_id) CHANGELOG KEY user_id
--                                            ^ a CHANGELOG sink writes one compacted topic
SELECT user_id, sum(amount) AS spent FROM payments GROUP BY user_id;
