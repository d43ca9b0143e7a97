SET spark.sql.shuffle.partitions;
--  ^ expected SET key = value
