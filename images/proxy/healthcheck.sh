#!/bin/bash
# nginx accepts connections on both TLS ports (hub and egress origins; 0.0.0.0 is checked on loopback).
set -eu
addr=${SANDKASSE_BIND_ADDRESS:-127.0.0.1}
[ "$addr" = "0.0.0.0" ] && addr=127.0.0.1
exec 3<>"/dev/tcp/$addr/${SANDKASSE_HTTPS_PORT:-8443}"  # the hub origin
exec 4<>"/dev/tcp/$addr/${SANDKASSE_EGRESS_HTTPS_PORT:-8444}"
exec 5<>"/dev/tcp/$addr/${SANDKASSE_PORTAL_HTTPS_PORT:-8445}"  # the application portal's origin
