-- One database per Peerline service: services never share a database.
-- Run once by the postgres image's entrypoint on an empty data directory (docker-compose and the
-- Kubernetes StatefulSet mount this file into /docker-entrypoint-initdb.d/).
-- The role `peerline` is created by the image from POSTGRES_USER / POSTGRES_PASSWORD.
-- Adding a service: add its database here AND create it by hand on existing deployments
-- (this script does not run again once the data directory exists).
CREATE DATABASE intake OWNER peerline;
CREATE DATABASE matching OWNER peerline;
CREATE DATABASE escalation OWNER peerline;
CREATE DATABASE tracking OWNER peerline;
CREATE DATABASE wellness OWNER peerline;
CREATE DATABASE notify OWNER peerline;
