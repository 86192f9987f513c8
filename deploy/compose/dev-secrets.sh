#!/usr/bin/env bash
# DEV-ONLY secrets for docker-compose.sasl.yml: a private CA, the broker's certificate (names
# kafka, localhost and 127.0.0.1) and a random SCRAM password per newsstream user. Written to
# deploy/compose/secrets/ (git-ignored) unless a directory is given; existing files are kept,
# so running it again changes nothing. Never use these for anything others can reach.
#
#   deploy/compose/dev-secrets.sh && docker compose -f docker-compose.yml -f docker-compose.sasl.yml up -d --build
set -euo pipefail

out="${1:-$(cd "$(dirname "$0")" && pwd)/secrets}"
mkdir -p "$out"
cd "$out"
umask 077

if [ ! -f ca.crt ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout ca.key -out ca.crt -days 825 -subj "/O=newsstream dev/CN=newsstream dev CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  rm -f kafka.pem
fi
if [ ! -f kafka.pem ]; then
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout kafka.key -out kafka.csr -subj "/O=newsstream dev/CN=kafka" 2>/dev/null
  printf '%s\n' "subjectAltName=DNS:kafka,DNS:localhost,IP:127.0.0.1" \
    "extendedKeyUsage=serverAuth" "basicConstraints=critical,CA:FALSE" > kafka.ext
  openssl x509 -req -in kafka.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
    -extfile kafka.ext -out kafka.crt 2>/dev/null
  # Kafka's PEM key store: an unencrypted PKCS#8 key, then the certificate chain.
  openssl pkcs8 -topk8 -nocrypt -in kafka.key -out kafka.pk8
  cat kafka.pk8 kafka.crt ca.crt > kafka.pem
  rm -f kafka.key kafka.pk8 kafka.csr kafka.ext ca.srl
fi
for user in admin crawler worker sink; do
  [ -f "kafka-$user.password" ] || printf '%s' "$(openssl rand -hex 24)" > "kafka-$user.password"
done
# The containers run as other users (Kafka uid 1000, newsstream uid 10001) and compose mounts
# these files as they are: readable by all, which is why they are dev-only. ca.key stays 0600.
chmod 0644 ca.crt kafka.pem kafka-*.password
echo "dev-only secrets in $out"
