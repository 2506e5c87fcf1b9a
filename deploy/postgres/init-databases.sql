-- Run once by the postgres image's entrypoint (/docker-entrypoint-initdb.d) on an empty data directory.
-- One database per service: the services never share tables and only talk through Kafka.
-- The owner is the POSTGRES_USER the entrypoint created (childcare), which runs this script.
CREATE DATABASE filing;
CREATE DATABASE inspection;
CREATE DATABASE credit;
CREATE DATABASE reporting;
