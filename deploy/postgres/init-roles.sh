#!/usr/bin/env bash
# Run once by the postgres image's entrypoint (/docker-entrypoint-initdb.d) on an empty data directory,
# as POSTGRES_USER: the cluster's superuser, for administration only; no service connects as it.
#
# One database per service (the services never share tables and only talk through Kafka), and two
# roles per database:
#   <svc>_owner  owns the database and its schema; the one-shot migrate step connects as it
#                (python -m shared.migrate, <SVC>_DATABASE_URL = the owner's URL)
#   <svc>_app    the role the service runs as: owns nothing, holds only what shared.migrate.grant_runtime
#                grants it after every migration (no TRUNCATE, no UPDATE/DELETE of append-only tables)
# Their passwords come from the environment, one pair per service (nothing has a default):
#   FILING_DB_OWNER_PASSWORD      FILING_DB_APP_PASSWORD
#   INSPECTION_DB_OWNER_PASSWORD  INSPECTION_DB_APP_PASSWORD
#   CREDIT_DB_OWNER_PASSWORD      CREDIT_DB_APP_PASSWORD
#   REPORTING_DB_OWNER_PASSWORD   REPORTING_DB_APP_PASSWORD
#
# The entrypoint runs this file if it is executable and sources it otherwise, so it neither exits nor
# changes shell options; a failure returns non-zero, which stops the entrypoint (it runs with set -e).

create_service_database() {
	local service="$1"
	local prefix="${service^^}"
	local owner_variable="${prefix}_DB_OWNER_PASSWORD" app_variable="${prefix}_DB_APP_PASSWORD"
	if [ -z "${!owner_variable:-}" ] || [ -z "${!app_variable:-}" ]; then
		echo "init-roles.sh: set ${owner_variable} and ${app_variable}" >&2
		return 1
	fi
	# The passwords reach psql through its environment (\getenv), never on a command line.
	OWNER_PASSWORD="${!owner_variable}" APP_PASSWORD="${!app_variable}" psql \
		-v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
		-v database="$service" -v owner="${service}_owner" -v app="${service}_app" <<-'SQL'
		\getenv owner_password OWNER_PASSWORD
		\getenv app_password APP_PASSWORD
		SET password_encryption = 'scram-sha-256';
		CREATE ROLE :"owner" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
		    PASSWORD :'owner_password';
		CREATE ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
		    PASSWORD :'app_password';
		CREATE DATABASE :"database" OWNER :"owner";
		-- Only the owner connects until the first migration grants the app role CONNECT (and nothing else).
		REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
	SQL
}

create_service_databases() {
	local service
	for service in filing inspection credit reporting; do
		create_service_database "$service" || return 1
	done
}

create_service_databases
