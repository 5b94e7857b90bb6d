#!/bin/bash
# Start PostgreSQL; on the first start (empty PGDATA) create the cluster, one role and one database per
# application. Passwords come from the environment (the stack's .env), never from the image.
#   POSTGRES_PASSWORD             superuser `postgres` (maintenance only)
#   SANDKASSE_DB_PASSWORD         role/database `sandkasse` (provisioning + egress tables)
#   KEYCLOAK_DB_PASSWORD          role/database `keycloak`
#   JUPYTERHUB_DB_PASSWORD        role/database `jupyterhub`
# On every start the application roles' passwords are set again from the environment, so a password
# rotated in .env takes effect with a restart (docs/deploy.md).
set -euo pipefail

pgbin=$(dirname "$(command -v postgres 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/postgres | sort -V | tail -1)")
export PATH="$pgbin:$PATH"
: "${PGDATA:?PGDATA must be set}"
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (run sandkasse init)}"

apps=(sandkasse keycloak jupyterhub)
password_of() {
  case "$1" in
    sandkasse) echo "${SANDKASSE_DB_PASSWORD:?set SANDKASSE_DB_PASSWORD}" ;;
    keycloak) echo "${KEYCLOAK_DB_PASSWORD:?set KEYCLOAK_DB_PASSWORD}" ;;
    jupyterhub) echo "${JUPYTERHUB_DB_PASSWORD:?set JUPYTERHUB_DB_PASSWORD}" ;;
  esac
}
sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }

mkdir -p "$PGDATA"
chmod 0700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "sandkasse-postgres: initialising a new cluster in $PGDATA"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username=postgres --pwfile="$pwfile" --auth-local=peer --auth-host=scram-sha-256 \
         --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  {
    echo "listen_addresses = '*'"
    echo "password_encryption = 'scram-sha-256'"
    echo "max_connections = 200"
    echo "log_connections = on"
    echo "log_line_prefix = '%m [%p] %q%u@%d '"
  } >>"$PGDATA/postgresql.conf"
  {
    echo "local all postgres peer"
    echo "local all all scram-sha-256"
    echo "host all all 0.0.0.0/0 scram-sha-256"
    echo "host all all ::/0 scram-sha-256"
  } >"$PGDATA/pg_hba.conf"
fi

# Roles and databases: created when missing, passwords (re)set from the environment on every start.
# A local-socket-only server is started first so nothing can connect before the roles are right.
pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w -t 60 start >/dev/null
for app in "${apps[@]}"; do
  pw=$(sql_literal "$(password_of "$app")")
  psql -v ON_ERROR_STOP=1 -qAt -h /var/run/postgresql -U postgres -d postgres <<SQL
SELECT format('CREATE ROLE %I LOGIN', '$app') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$app')\gexec
ALTER ROLE $app WITH LOGIN PASSWORD $pw;
SELECT format('CREATE DATABASE %I OWNER %I', '$app', '$app') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$app')\gexec
REVOKE ALL ON DATABASE $app FROM PUBLIC;
SQL
done
psql -v ON_ERROR_STOP=1 -qAt -h /var/run/postgresql -U postgres -d postgres \
  -c "ALTER ROLE postgres WITH PASSWORD $(sql_literal "$POSTGRES_PASSWORD")"
pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null

echo "sandkasse-postgres: roles ready; starting the server"
exec postgres -D "$PGDATA" -c unix_socket_directories=/var/run/postgresql
