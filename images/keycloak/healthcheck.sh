#!/bin/bash
# Ready = Keycloak's management interface reports /health/ready (database reachable, realm imported).
# bash's /dev/tcp because neither the official image nor ours ships curl.
set -eu
exec 3<>/dev/tcp/127.0.0.1/9000
printf 'GET /auth/health/ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
head -n 1 <&3 | grep -q ' 200 '
