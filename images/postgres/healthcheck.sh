#!/bin/bash
# Healthy once the server accepts connections for the application databases on TCP (what the other
# services use), not merely on its socket.
set -eu
pgbin=$(dirname "$(command -v pg_isready 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/pg_isready | sort -V | tail -1)")
exec "$pgbin/pg_isready" -q -h 127.0.0.1 -p 5432 -d sandkasse -U sandkasse
