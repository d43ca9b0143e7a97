-- q3, local item suggestion: sellers in Oregon, Idaho or California and their auctions of
-- category 10. An inner join of two streams without a time bound, as in the specification:
-- Spark keeps both sides in state for ever (validate warns so).
INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT P.name, P.city, P.state, A.id
FROM auction AS A
JOIN person AS P ON A.seller = P.id
WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
