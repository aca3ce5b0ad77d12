#!/usr/bin/env bash
# Makes the certificates the TLS tests use, in test/fixtures/tls (committed, so
# npm test needs no openssl): a test CA; certificates it signed for 127.0.0.1
# (server), for logs.test only (named: a wrong host for 127.0.0.1), for a client,
# and one that expired in 2020; the client key encrypted with "pa55phrase"; a
# PKCS#12 bundle of the client; a self-signed certificate for 127.0.0.1. Valid for
# 100 years. Test material only: none of it protects anything.
set -euo pipefail
cd "$(dirname "$0")/../test/fixtures/tls"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
days=36500
openssl req -x509 -newkey rsa:2048 -nodes -days $days -subj '/CN=pino-websocket test CA' -keyout ca.key -out ca.pem 2>/dev/null
for spec in 'server IP:127.0.0.1,DNS:logs.test' 'named DNS:logs.test' 'client DNS:client'; do
  set -- $spec
  printf 'subjectAltName=%s\n' "$2" > "$work/$1.ext"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$work/$1.csr" 2>/dev/null
  openssl x509 -req -in "$work/$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -CAserial "$work/ca.srl" -days $days -extfile "$work/$1.ext" -out "$1.pem" 2>/dev/null
done
touch "$work/index.txt"
echo 1000 > "$work/serial"
printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s\nnew_certs_dir = %s\nserial = %s\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n[p]\ncommonName = supplied\n' \
  "$work/index.txt" "$work" "$work/serial" > "$work/ca.cnf"
openssl req -new -key server.key -subj /CN=server -out "$work/expired.csr" 2>/dev/null
openssl ca -batch -notext -config "$work/ca.cnf" -cert ca.pem -keyfile ca.key -in "$work/expired.csr" \
  -startdate 20200101000000Z -enddate 20200102000000Z -out expired.pem 2>/dev/null
openssl pkey -in client.key -aes256 -passout pass:pa55phrase -out client-encrypted.key
openssl pkcs12 -export -in client.pem -inkey client.key -passout pass:pa55phrase -out client.p12
openssl req -x509 -newkey rsa:2048 -nodes -days $days -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout self-signed.key -out self-signed.pem 2>/dev/null
rm -f ca.srl
