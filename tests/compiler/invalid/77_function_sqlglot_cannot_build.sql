CREATE STREAM s (a STRING) FROM KAFKA (topic = 't');

INSERT INTO KAFKA TOPIC 'o' SELECT map(a) AS m FROM s;
--                          ^ cannot read this SQL: a function call here has arguments sqlglot cannot build
