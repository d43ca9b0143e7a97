-- q8, monitor new users: the people who created an auction in the 10 s window in which they
-- registered. Rewritten: the specification joins two aggregations (people per window, sellers
-- per window), which Spark cannot run in append mode. Here the streams are joined first, on the
-- person and the window (a time-bounded join, so its state is cleaned up), then grouped by the
-- person and the window to write each person once. The window of the ON condition is the
-- number of the tumbling window, unix_millis DIV its length: Spark cannot resolve the columns of
-- a join whose ON condition calls window() ([UNRESOLVED_COLUMN.WITH_SUGGESTION] `P`.`id` cannot
-- be resolved. Did you mean one of the following? [`P`.`id`, ...]).
CREATE STREAM q8_sellers AS
SELECT P.id, P.name, P.dateTime
FROM person AS P
JOIN auction AS A
  ON P.id = A.seller
 AND unix_millis(P.dateTime) DIV {{ var('tumble_ms', 10000) }} = unix_millis(A.dateTime) DIV {{ var('tumble_ms', 10000) }}
 AND A.dateTime BETWEEN P.dateTime - INTERVAL {{ var('tumble_interval', "'10' SECONDS") }}
                    AND P.dateTime + INTERVAL {{ var('tumble_interval', "'10' SECONDS") }};

INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT id, name, window.start AS starttime
FROM q8_sellers
GROUP BY window(dateTime, '{{ var('tumble', '10 seconds') }}'), id, name;
