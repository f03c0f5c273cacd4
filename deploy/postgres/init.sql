-- One database per service, each owned by the service's own role, so "no service reads another's
-- tables" (DESIGN.md) is enforced by PostgreSQL, not only by convention: a role can connect to
-- its own database and no other. The owner may create tables in it (PostgreSQL 15+ gives the
-- public schema to the database owner), which the services' migrations need.
--
-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d).
-- DEV ONLY passwords: they match the APP_DATABASE__URL values in docker-compose.yml, and the
-- stack publishes no database port. `order` is a reserved word, hence the quotes.

CREATE ROLE catalog_svc LOGIN PASSWORD 'catalog-dev-only';
CREATE ROLE quote_svc LOGIN PASSWORD 'quote-dev-only';
CREATE ROLE order_svc LOGIN PASSWORD 'order-dev-only';
CREATE ROLE fulfilment_svc LOGIN PASSWORD 'fulfilment-dev-only';
CREATE ROLE portal_svc LOGIN PASSWORD 'portal-dev-only';
CREATE ROLE reporting_svc LOGIN PASSWORD 'reporting-dev-only';

CREATE DATABASE catalog OWNER catalog_svc;
CREATE DATABASE quote OWNER quote_svc;
CREATE DATABASE "order" OWNER order_svc;
CREATE DATABASE fulfilment OWNER fulfilment_svc;
CREATE DATABASE portal OWNER portal_svc;
CREATE DATABASE reporting OWNER reporting_svc;

-- PUBLIC may connect to any database by default; take that away.
REVOKE ALL ON DATABASE catalog FROM PUBLIC;
REVOKE ALL ON DATABASE quote FROM PUBLIC;
REVOKE ALL ON DATABASE "order" FROM PUBLIC;
REVOKE ALL ON DATABASE fulfilment FROM PUBLIC;
REVOKE ALL ON DATABASE portal FROM PUBLIC;
REVOKE ALL ON DATABASE reporting FROM PUBLIC;
