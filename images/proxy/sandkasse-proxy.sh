#!/bin/bash
# Start nginx. TLS material lives in /etc/sandkasse/tls (a volume): tls.crt and tls.key.
# Real certificates: put them there (or bind-mount them); nothing is generated then.
# Demo: when none is there, a self-signed certificate for SANDKASSE_PUBLIC_HOST (plus localhost and
# 127.0.0.1) is generated once and kept in the volume, so browsers see the same one after a restart.
set -euo pipefail
tls=/etc/sandkasse/tls
host=${SANDKASSE_PUBLIC_HOST:-localhost}
if [ ! -s "$tls/tls.crt" ] || [ ! -s "$tls/tls.key" ]; then
  if ! command -v openssl >/dev/null; then
    echo "sandkasse-proxy: no certificate in $tls and no openssl to make a self-signed one;" \
         "mount tls.crt and tls.key (docs/deploy.md)" >&2
    exit 1
  fi
  echo "sandkasse-proxy: generating a self-signed certificate for $host (demo only)"
  san="DNS:$host,DNS:localhost,IP:127.0.0.1"
  if [[ "$host" =~ ^[0-9.]+$ ]]; then san="IP:$host,DNS:localhost,IP:127.0.0.1"; fi
  umask 077
  openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 825 \
    -keyout "$tls/tls.key.new" -out "$tls/tls.crt.new" \
    -subj "/O=Sandkasse demo/CN=$host" -addext "subjectAltName=$san" \
    -addext "extendedKeyUsage=serverAuth" 2>/dev/null
  mv "$tls/tls.key.new" "$tls/tls.key"
  mv "$tls/tls.crt.new" "$tls/tls.crt"
fi
conf=/run/sandkasse-nginx.conf
sed -e "s/@BIND_ADDRESS@/${SANDKASSE_BIND_ADDRESS:-127.0.0.1}/" \
    -e "s/@HTTPS_PORT@/${SANDKASSE_HTTPS_PORT:-8443}/" \
    -e "s/@EGRESS_HTTPS_PORT@/${SANDKASSE_EGRESS_HTTPS_PORT:-8444}/" \
    -e "s/@PORTAL_HTTPS_PORT@/${SANDKASSE_PORTAL_HTTPS_PORT:-8445}/" \
    -e "s/@PORTAL_PORT@/${SANDKASSE_PORTAL_PORT:-8095}/" \
    -e "s/@HUB_PORT@/${SANDKASSE_HUB_PORT:-8000}/" \
    -e "s/@EGRESS_PORT@/${SANDKASSE_EGRESS_PORT:-8090}/" \
    -e "s/@KEYCLOAK_PORT@/${SANDKASSE_KEYCLOAK_PORT:-8180}/" \
    /etc/sandkasse/nginx.conf >"$conf"
mkdir -p /var/cache/sandkasse-proxy
nginx -t -q -c "$conf"
exec nginx -c "$conf" -g 'daemon off;'
