#!/bin/bash
# The allow-list compares bind sources with SANDKASSE_DATA_DIR as a regular expression: pass it
# without its leading slash and with regex metacharacters escaped.
set -euo pipefail
dir=${SANDKASSE_DATA_DIR:-/var/lib/sandkasse}
dir=${dir%/}
rel=$(printf '%s' "${dir#/}" | sed -e 's/[][\\.^$*+?(){}|]/\\&/g')
export SANDKASSE_DATA_DIR_REL="$rel"
exec haproxy -db -f /etc/sandkasse/docker-api.cfg
