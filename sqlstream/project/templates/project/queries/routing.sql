-- Route every transaction to a topic by its priority, with headers saying where it came from.
-- `priority` is a macro (macros/priority.sql); the threshold is the `high_amount` var.

CREATE STREAM prioritised AS
SELECT user_id,
       action,
       amount,
       event_time,
       {{ priority('amount', var('high_amount', 500)) }} AS priority
FROM transactions;

INSERT INTO KAFKA TOPIC ('transactions-' || priority)
    KEY user_id
    HEADERS ('source' = 'sqlstream', 'priority' = priority)
SELECT user_id, action, amount, event_time, priority
FROM prioritised;
