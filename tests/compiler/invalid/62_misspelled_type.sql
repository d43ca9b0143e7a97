CREATE STREAM orders (
    order_id STRING,
    amount DOUBEL
--         ^ expected a type after column 'amount'
) FROM KAFKA (topic = 'orders');
