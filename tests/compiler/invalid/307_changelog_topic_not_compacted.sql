CREATE STREAM payments (user_id STRING, amount DOUBLE) FROM KAFKA (topic = 'payments');

INSERT INTO KAFKA TOPIC 'spend' CHANGELOG KEY user_id
WITH ('topic.cleanup.policy' = 'delete')
--    ^ a CHANGELOG topic must be compacted, but 'topic.cleanup.policy' is 'delete'
SELECT user_id, sum(amount) AS spent FROM payments GROUP BY user_id;
