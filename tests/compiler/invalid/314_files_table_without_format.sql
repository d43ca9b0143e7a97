CREATE TABLE regions (product STRING, region STRING, PRIMARY KEY (product))
FROM FILES (path = 'regions.csv');
--   ^ table 'regions' FROM FILES needs the option 'format'
