#!/bin/bash
# Start the egress service: bring its tables (and provisioning's, which it reads) up to the current
# Alembic revision first, so an upgraded image migrates the database on start (docs/deploy.md).
# Forwarded headers are believed only from SANDKASSE_TRUSTED_PROXIES (default 127.0.0.1, the TLS
# proxy), by the app itself: with uvicorn's '*' a sandbox could forge its audit source and rate limit.
set -euo pipefail
python -m sandkasse.stack.compose_init migrate
exec uvicorn egress_review.app:create_app --factory \
  --host 0.0.0.0 --port "${SANDKASSE_EGRESS_PORT:-8090}" \
  --no-proxy-headers \
  --root-path "${SANDKASSE_EGRESS_ROOT_PATH:-}" \
  --no-server-header "$@"
