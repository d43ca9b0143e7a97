-- q8, monitor new users: the people who created an auction in the 10 s window in which they
-- registered. Rewritten: the specification joins two aggregations (people per window, sellers
-- per window), which Spark cannot run in append mode. Here the streams are joined first, on the
-- person and the window (a time-bounded join, so its state is cleaned up), then grouped by the
-- person and the window to write each person once.
CREATE STREAM q8_sellers AS
SELECT P.id, P.name, P.dateTime
FROM person AS P
JOIN auction AS A
  ON P.id = A.seller
 AND window(P.dateTime, '{{ var('tumble', '10 seconds') }}') = window(A.dateTime, '{{ var('tumble', '10 seconds') }}')
 AND A.dateTime BETWEEN P.dateTime - INTERVAL {{ var('tumble_interval', "'10' SECONDS") }}
                    AND P.dateTime + INTERVAL {{ var('tumble_interval', "'10' SECONDS") }};

INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT id, name, window.start AS starttime
FROM q8_sellers
GROUP BY window(dateTime, '{{ var('tumble', '10 seconds') }}'), id, name;
