#!/usr/bin/env bash
# Throwaway TLS material for a local SASL_SSL listener, made once with openssl:
#   DIR/ca.crt        the CA clients trust (KAFKA_SSL_CA_FILE)
#   DIR/broker.p12    the broker's key and certificate (for 127.0.0.1 and localhost), PKCS12
#   DIR/server.crt, DIR/server.key   the same in PEM, for servers that want PEM (tests' TLS Redis)
#   DIR/password      the keystore password (random, readable by this user only)
# usage: scripts/services/kafka-tls.sh DIR     (does nothing when DIR/broker.p12 exists)
# Never use this CA for anything but a local test broker: its key sits next to it.
set -euo pipefail
DIR="${1:?usage: kafka-tls.sh DIR}"
[[ -f "$DIR/broker.p12" ]] && exit 0
command -v openssl >/dev/null || { echo "kafka-tls.sh: openssl not found" >&2; exit 1; }
mkdir -p "$DIR"
umask 077
tmp="$(mktemp -d "$DIR/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
openssl rand -hex 16 >"$tmp/password"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=gwb local test CA $(openssl rand -hex 4)" \
  -keyout "$tmp/ca.key" -out "$tmp/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tmp/broker.key" -out "$tmp/broker.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/broker.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial -days 3650 \
  -extfile "$tmp/ext" -out "$tmp/broker.crt" 2>/dev/null
openssl pkcs12 -export -in "$tmp/broker.crt" -inkey "$tmp/broker.key" -certfile "$tmp/ca.crt" -name broker \
  -out "$tmp/broker.p12" -passout "file:$tmp/password"
chmod 644 "$tmp/ca.crt"
mv "$tmp/broker.crt" "$DIR/server.crt"
mv "$tmp/broker.key" "$DIR/server.key"
mv "$tmp/ca.crt" "$tmp/ca.key" "$tmp/password" "$DIR/"
mv "$tmp/broker.p12" "$DIR/broker.p12"
