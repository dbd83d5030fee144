-- One database and one login role per Peerline service, and the identity vault's own: a service's role
-- reaches its own database only (CONNECT is revoked from PUBLIC), and only intake holds the vault's.
-- Run once by the postgres image's entrypoint on an empty data directory (docker-compose and the dev
-- overlay's StatefulSet mount this file into /docker-entrypoint-initdb.d/). The superuser `peerline`
-- comes from POSTGRES_USER / POSTGRES_PASSWORD; no service logs in as it.
-- The passwords are the dev overlay's fake ones (deploy/overlays/dev/kustomization.yaml, docker-compose.yml).
-- Production uses CloudNativePG (deploy/overlays/production/postgres), not this file.
-- Adding a service: add its role and database here AND create them by hand on existing deployments
-- (this script does not run again once the data directory exists).

CREATE ROLE intake LOGIN PASSWORD 'dev-only-intake-not-a-secret';
CREATE DATABASE intake OWNER intake;
REVOKE ALL ON DATABASE intake FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE intake TO intake;

CREATE ROLE vault LOGIN PASSWORD 'dev-only-vault-not-a-secret';
CREATE DATABASE vault OWNER vault;
REVOKE ALL ON DATABASE vault FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE vault TO vault;

CREATE ROLE matching LOGIN PASSWORD 'dev-only-matching-not-a-secret';
CREATE DATABASE matching OWNER matching;
REVOKE ALL ON DATABASE matching FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE matching TO matching;

CREATE ROLE escalation LOGIN PASSWORD 'dev-only-escalation-not-a-secret';
CREATE DATABASE escalation OWNER escalation;
REVOKE ALL ON DATABASE escalation FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE escalation TO escalation;

CREATE ROLE tracking LOGIN PASSWORD 'dev-only-tracking-not-a-secret';
CREATE DATABASE tracking OWNER tracking;
REVOKE ALL ON DATABASE tracking FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE tracking TO tracking;

CREATE ROLE wellness LOGIN PASSWORD 'dev-only-wellness-not-a-secret';
CREATE DATABASE wellness OWNER wellness;
REVOKE ALL ON DATABASE wellness FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE wellness TO wellness;

CREATE ROLE notify LOGIN PASSWORD 'dev-only-notify-not-a-secret';
CREATE DATABASE notify OWNER notify;
REVOKE ALL ON DATABASE notify FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE notify TO notify;
