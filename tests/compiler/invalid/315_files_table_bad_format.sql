CREATE TABLE regions (product STRING, region STRING, PRIMARY KEY (product))
FROM FILES (path = 'regions.xlsx', format = 'xlsx');
--                                          ^ a files table reads csv, json or parquet, not 'xlsx'
