#!/bin/bash
# nginx answers on its internal health port (the TLS port serves the same configuration).
set -eu
exec 3<>/dev/tcp/127.0.0.1/8081
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
head -n 1 <&3 | grep -q ' 200 '
