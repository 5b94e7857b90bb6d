#!/bin/bash
# Healthy when the engine answers /_ping through the filter (so both the proxy and the socket work).
set -eu
exec 3<>/dev/tcp/127.0.0.1/2375
printf 'GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n' >&3
head -n 1 <&3 | grep -q ' 200 '
