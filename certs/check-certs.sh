#!/bin/bash
# check-certs.sh -- end-to-end check of secmq-certs against OpenSSL and a real
# mosquitto broker on loopback: chain and extensions, file modes, refusals,
# expired certificates, pins, and TLS client authentication.
# Usage: check-certs.sh PATH/TO/secmq-certs   (needs openssl; the broker part
# is skipped when mosquitto or mosquitto_pub/_sub are missing). Exit 0 = pass.
set -u

BIN=${1:?usage: check-certs.sh PATH/TO/secmq-certs}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/secmq-certs-check.XXXXXX") || exit 1
BROKER_PID=
FAILS=0

cleanup() {
    if [ -n "$BROKER_PID" ]; then
        kill "$BROKER_PID" 2>/dev/null
        wait "$BROKER_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ok() { printf 'ok   %s\n' "$1"; }
bad() { printf 'FAIL %s\n' "$1"; FAILS=$((FAILS + 1)); }
check() { # check DESCRIPTION COMMAND...
    desc=$1; shift
    if "$@" >"$WORK/out" 2>&1; then ok "$desc"; else bad "$desc"; sed 's/^/     /' "$WORK/out"; fi
}
check_fails() { # check_fails DESCRIPTION COMMAND...: must exit non-zero
    desc=$1; shift
    if "$@" >"$WORK/out" 2>&1; then bad "$desc (unexpectedly succeeded)"; else ok "$desc"; fi
}
mode_of() { stat -c %a "$1"; }
openssl_pin() {
    printf 'sha256:%s\n' "$(openssl x509 -in "$1" -pubkey -noout |
        openssl pkey -pubin -outform der | openssl dgst -sha256 -binary |
        base64)"
}

D=$WORK/pki
check "dev creates a PKI" "$BIN" dev --dir "$D"
for f in ca broker sam alice; do
    [ "$(mode_of "$D/$f.key")" = 600 ] && [ "$(mode_of "$D/$f.crt")" = 644 ] &&
        [ "$(head -n 1 "$D/$f.key")" = "-----BEGIN EC PRIVATE KEY-----" ] &&
        ok "$f: key 0600 EC PRIVATE KEY, cert 0644" || bad "$f: file modes/format"
done
[ "$(mode_of "$D")" = 700 ] && ok "directory created 0700" || bad "directory mode"
check "chain verifies" openssl verify -CAfile "$D/ca.crt" "$D/broker.crt" "$D/sam.crt" "$D/alice.crt"
check "chain verifies with -x509_strict" openssl verify -x509_strict -CAfile "$D/ca.crt" "$D/broker.crt" "$D/sam.crt"
check "CA key matches" sh -c "openssl ec -in '$D/ca.key' -check -noout"

text() { openssl x509 -in "$1" -noout -text; }
check "CA: CA:TRUE critical, keyCertSign+cRLSign" sh -c "
    t=\$(openssl x509 -in '$D/ca.crt' -noout -text)
    echo \"\$t\" | grep -A1 'Basic Constraints: critical' | grep -q 'CA:TRUE' &&
    echo \"\$t\" | grep -q 'Certificate Sign, CRL Sign' &&
    echo \"\$t\" | grep -q 'Subject Key Identifier' &&
    echo \"\$t\" | grep -q 'NIST CURVE: P-256' &&
    echo \"\$t\" | grep -q 'ecdsa-with-SHA256'"
check "broker: default SANs, serverAuth, CA:FALSE" sh -c "
    t=\$(openssl x509 -in '$D/broker.crt' -noout -text)
    echo \"\$t\" | grep -q 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1' &&
    echo \"\$t\" | grep -q 'TLS Web Server Authentication' &&
    echo \"\$t\" | grep -q 'CA:FALSE' &&
    echo \"\$t\" | grep -q 'Authority Key Identifier' &&
    echo \"\$t\" | grep -q 'Subject: CN = broker'"
check "sam: clientAuth, no SAN" sh -c "
    t=\$(openssl x509 -in '$D/sam.crt' -noout -text)
    echo \"\$t\" | grep -q 'TLS Web Client Authentication' &&
    ! echo \"\$t\" | grep -q 'Alternative Name'"
check "serial is 16 bytes, positive" sh -c "
    s=\$(openssl x509 -in '$D/sam.crt' -noout -serial | cut -d= -f2)
    [ \${#s} -eq 32 ] && case \$s in [0-7]*) true;; *) false;; esac"
check "127.0.0.1 matches the broker's IP SAN" openssl verify -CAfile "$D/ca.crt" -verify_ip 127.0.0.1 "$D/broker.crt"
check "localhost matches the broker's DNS SAN" openssl verify -CAfile "$D/ca.crt" -verify_hostname localhost "$D/broker.crt"
check_fails "other host names do not match" openssl verify -CAfile "$D/ca.crt" -verify_hostname evil.test "$D/broker.crt"
check_fails "other addresses do not match" openssl verify -CAfile "$D/ca.crt" -verify_ip 127.0.0.2 "$D/broker.crt"

check "server with explicit SANs" "$BIN" server --dir "$D" --name web --dns mqtt.example.test --dns '*.example.test' --ip 10.1.2.3 --ip fe80::1 --days 30
check "explicit SANs present" sh -c "openssl x509 -in '$D/web.crt' -noout -ext subjectAltName |
    grep -q 'DNS:mqtt.example.test, DNS:\*.example.test, IP Address:10.1.2.3, IP Address:FE80:0:0:0:0:0:0:1'"

check "expired client" "$BIN" client --dir "$D" --name old --expired
check "expired: notAfter in the past" sh -c "! openssl x509 -in '$D/old.crt' -noout -checkend 0 >/dev/null"
if openssl verify -CAfile "$D/ca.crt" "$D/old.crt" >"$WORK/out" 2>&1; then
    bad "openssl verify refuses the expired cert"
else
    grep -q 'certificate has expired' "$WORK/out" && ok "openssl verify: certificate has expired" ||
        { bad "expired: unexpected verify error"; cat "$WORK/out"; }
fi
check "normal cert starts in the past (clock skew)" sh -c "
    nb=\$(date -d \"\$(openssl x509 -in '$D/sam.crt' -noout -startdate | cut -d= -f2)\" +%s)
    [ \$nb -le \$((\$(date +%s) - 3000)) ]"

for f in ca broker sam web old; do
    a=$("$BIN" pin "$D/$f.crt") && b=$(openssl_pin "$D/$f.crt") && [ "$a" = "$b" ] &&
        ok "pin $f.crt = $a" || bad "pin $f.crt: '$a' vs '$b'"
done
openssl x509 -in "$D/sam.crt" -outform der -out "$WORK/sam.der"
[ "$("$BIN" pin "$WORK/sam.der")" = "$(openssl_pin "$D/sam.crt")" ] && ok "pin of a DER file" || bad "pin of a DER file"

# Refusals: each prints exactly one "secmq-certs: ..." line on stderr.
one_line_refusal() { # DESCRIPTION PATTERN COMMAND...
    desc=$1 pat=$2; shift 2
    if "$@" >/dev/null 2>"$WORK/err"; then bad "$desc (succeeded)"; return; fi
    if [ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q "^secmq-certs: .*$pat" "$WORK/err"; then
        ok "$desc: $(cat "$WORK/err")"
    else
        bad "$desc"; cat "$WORK/err"
    fi
}
cp "$D/sam.key" "$WORK/sam.key.before"
one_line_refusal "dev refuses to overwrite" "already exists" "$BIN" dev --dir "$D"
one_line_refusal "client refuses to overwrite" "already exists" "$BIN" client --dir "$D" --name sam
cmp -s "$D/sam.key" "$WORK/sam.key.before" && ok "sam.key untouched" || bad "sam.key changed"
check "--force replaces" "$BIN" client --dir "$D" --name sam --force
cmp -s "$D/sam.key" "$WORK/sam.key.before" && bad "--force kept the old key" || ok "--force wrote a new key"
[ "$(mode_of "$D/sam.key")" = 600 ] && ok "replaced key still 0600" || bad "replaced key mode"
one_line_refusal "name with /" "'/'" "$BIN" client --dir "$D" --name a/b
one_line_refusal "name starting with ." "'\.'" "$BIN" client --dir "$D" --name .hidden
one_line_refusal "name ca reserved" "reserved" "$BIN" server --dir "$D" --name ca --force
one_line_refusal "bad IP" "not an IPv4" "$BIN" server --dir "$D" --name x --ip 1.2.3
one_line_refusal "bad days" "days" "$BIN" client --dir "$D" --name x --days 0
one_line_refusal "unknown option" "unknown option" "$BIN" ca --dir "$D" --bogus
one_line_refusal "no CA in dir" "ca.crt" "$BIN" client --dir "$WORK/empty" --name x
one_line_refusal "missing command" "missing command" "$BIN"
check "--help exits 0" "$BIN" --help
[ -z "$(ls -A "$D" | grep '^\.secmq-certs\.')" ] && ok "no temporary files left" || bad "temporary files left"

# A CA key that does not match the CA certificate is refused.
D2=$WORK/other
"$BIN" ca --dir "$D2" >/dev/null && cp "$D2/ca.key" "$WORK/mismatch.key"
"$BIN" ca --dir "$D2" --force >/dev/null && cp "$WORK/mismatch.key" "$D2/ca.key"
one_line_refusal "mismatched CA key refused" "does not belong" "$BIN" client --dir "$D2" --name x

# ---- a real broker on loopback ----------------------------------------------
if ! command -v mosquitto >/dev/null || ! command -v mosquitto_pub >/dev/null ||
    ! command -v mosquitto_sub >/dev/null; then
    echo "skip broker tests: mosquitto, mosquitto_pub or mosquitto_sub missing"
else
    port_busy() { (: >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
    PORT=${SECMQ_CHECK_PORT:-18883}
    while port_busy "$PORT"; do PORT=$((PORT + 1)); done
    cat >"$WORK/mosquitto.conf" <<EOF
per_listener_settings false
allow_anonymous true
listener $PORT 127.0.0.1
cafile $D/ca.crt
certfile $D/broker.crt
keyfile $D/broker.key
require_certificate true
use_identity_as_username true
log_dest stderr
EOF
    [ "$(id -u)" = 0 ] && echo "user root" >>"$WORK/mosquitto.conf"
    mosquitto -c "$WORK/mosquitto.conf" 2>"$WORK/broker.log" &
    BROKER_PID=$!
    i=0
    while ! port_busy "$PORT" && [ $i -lt 50 ]; do
        sleep 0.1; i=$((i + 1))
    done
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
        bad "broker did not start"; cat "$WORK/broker.log"; BROKER_PID=
    else
        ok "mosquitto listening on 127.0.0.1:$PORT with require_certificate"
        pub() { # HOST CERTNAME
            mosquitto_pub --cafile "$D/ca.crt" -h "$1" -p "$PORT" \
                --cert "$D/$2.crt" --key "$D/$2.key" -t x -m y
        }
        mosquitto_sub --cafile "$D/ca.crt" -h localhost -p "$PORT" \
            --cert "$D/alice.crt" --key "$D/alice.key" -t x -C 1 -W 10 >"$WORK/sub.out" 2>&1 &
        SUB_PID=$!
        sleep 0.5
        check "publish as sam via -h localhost" pub localhost sam
        wait "$SUB_PID"
        [ "$(cat "$WORK/sub.out")" = y ] && ok "alice received the message" || { bad "alice did not receive"; cat "$WORK/sub.out"; }
        check "publish as sam via -h 127.0.0.1" pub 127.0.0.1 sam
        check_fails "broker refuses an expired client cert" pub 127.0.0.1 old
        check_fails "broker refuses a client without cert" mosquitto_pub --cafile "$D/ca.crt" -h localhost -p "$PORT" -t x -m y
        check_fails "client refuses a foreign CA" mosquitto_pub --cafile "$D2/ca.crt" -h localhost -p "$PORT" --cert "$D/sam.crt" --key "$D/sam.key" -t x -m y
        kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null; BROKER_PID=
    fi
fi

if [ "$FAILS" -eq 0 ]; then echo "all checks passed"; exit 0; fi
echo "$FAILS check(s) failed"; exit 1
