CREATE STREAM orders (id STRING, amount INT) FROM KAFKA (topic = 'orders');

INSERT INTO KAFKA TOPIC 'out' SELECT abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(abs(amount)))))))))))))))))))))))))))))))))))))))) AS a FROM orders;
--                                                                                                                                                                      ^ nested too deeply
