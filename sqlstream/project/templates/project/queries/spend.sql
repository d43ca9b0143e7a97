-- Spend per user per 5-minute window, from a topic of JSON transactions such as
--   {"user_id": "u1", "action": "purchase", "amount": 12.5, "event_time": "2026-11-27T10:00:00Z"}
-- A window is written once, when the watermark (10 minutes behind the newest event) passes it.

CREATE STREAM transactions (
    user_id    STRING,
    action     STRING,
    amount     DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (
    topic = 'transactions',
    format = 'json'
);

INSERT INTO KAFKA TOPIC 'user-spending'
    KEY user_id
    WITH (trigger = '10 seconds')
SELECT window.start AS window_start,
       window.end   AS window_end,
       user_id,
       sum(amount)  AS total_spent,
       count(*)     AS purchases
FROM transactions
WHERE action = 'purchase'
GROUP BY window(event_time, '5 minutes'), user_id;
