#!/bin/bash
# Start the egress service: bring its tables (and provisioning's, which it reads) up to the current
# Alembic revision first, so an upgraded image migrates the database on start (docs/deploy.md).
set -euo pipefail
python -m sandkasse.stack.compose_init migrate
exec uvicorn egress_review.app:create_app --factory \
  --host 0.0.0.0 --port "${SANDKASSE_EGRESS_PORT:-8090}" \
  --proxy-headers --forwarded-allow-ips '*' \
  --root-path "${SANDKASSE_EGRESS_ROOT_PATH:-}" \
  --no-server-header "$@"
