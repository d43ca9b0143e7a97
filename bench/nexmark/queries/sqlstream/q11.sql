-- q11, user sessions: the bids of each bidder per session (a gap of 10 s closes one).
INSERT INTO KAFKA TOPIC '{{ var('output_topic') }}'
SELECT bidder, count(*) AS bid_count, session_window.start AS starttime,
       session_window.end AS endtime
FROM bid
GROUP BY bidder, session_window(dateTime, '{{ var('tumble', '10 seconds') }}');
