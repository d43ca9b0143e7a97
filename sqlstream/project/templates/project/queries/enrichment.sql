-- Enrich each transaction with its user's segment, from a reference file, and keep a running
-- total of spend per user. `transactions` is the stream of queries/spend.sql.
-- A relative path is relative to the directory `sqlstream run` starts in: run it from the
-- project's root (as `make demo` does), where examples/ is.

CREATE TABLE users (
    user_id STRING,
    segment STRING,
    country STRING,
    PRIMARY KEY (user_id)
) FROM FILES (
    path = 'examples/users.csv',
    format = 'csv'
);

-- A stream-table join: each transaction meets the file as it is when its micro-batch runs;
-- a user missing from the file keeps the transaction, with a null segment (LEFT JOIN).
INSERT INTO KAFKA TOPIC 'transactions-enriched'
    KEY user_id
SELECT t.user_id, t.action, t.amount, t.event_time, u.segment, u.country
FROM transactions t
LEFT JOIN users u ON t.user_id = u.user_id;

-- A running total, not per window: CHANGELOG writes each new total as a record keyed by the
-- user, to a compacted topic (created so by `run`), which holds the latest total per user.
INSERT INTO KAFKA TOPIC 'spend-so-far'
    CHANGELOG KEY user_id
SELECT user_id, sum(amount) AS total_spent, count(*) AS purchases
FROM transactions
WHERE action = 'purchase'
GROUP BY user_id;
