CREATE STREAM payments (user_id STRING, region STRING, amount DOUBLE) FROM KAFKA (topic = 'payments');

INSERT INTO KAFKA TOPIC 'spend' CHANGELOG KEY user_id
--                                            ^ a CHANGELOG KEY must be exactly the grouping columns (user_id, region)
SELECT user_id, region, sum(amount) AS spent FROM payments GROUP BY user_id, region;
