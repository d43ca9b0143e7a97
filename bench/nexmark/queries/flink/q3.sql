-- q3, local item suggestion: sellers in OR, ID or CA with an auction in category 10. A join of
-- two append-only streams without a time bound: its output is append-only too, so it goes to a
-- plain Kafka sink (the state of both sides is kept for the whole run).
CREATE TABLE q3 (
    name   STRING,
    city   STRING,
    state  STRING,
    id     BIGINT
) WITH (${SINK});

INSERT INTO q3
SELECT P.name, P.city, P.state, A.id
FROM auction AS A
JOIN person AS P ON A.seller = P.id
WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA');
