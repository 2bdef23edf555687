#!/usr/bin/env bash
# demo.sh -- the secmq demo, from a fresh Debian machine to messages over TLS.
#
# Installs what is missing, builds, generates a development PKI and random
# passwords in build/demo/ (nothing secret is committed), starts a local
# mosquitto with only a TLS listener on a free loopback port and the
# secmq_auth plugin (argon2id logins, per-topic ACLs and signature checks
# from an auth database made with secmq-admin), then lets alice subscribe
# to `status` and sam publish to it with secmq-sub / secmq-pub, and shows
# what is refused: a wrong password, an unknown CA, a plaintext client,
# alice subscribing to `#`, alice publishing `status`, an unsigned message;
# and that the broker only ever sees ciphertext (sam and alice get
# end-to-end identities and a channel for `status` made with secmq-keys);
# finally sam sends alice a camera image with secmq-file.
#
# SECMQ_BUILD_DIR=DIR uses that build directory instead of build/;
# SECMQ_DEMO_PREBUILT=1 skips installing and building (DIR must hold a
# build: the README test runs the demo that way); SECMQ_DEMO_DIR=NEWDIR
# puts the demo's files there instead of DIR/demo; SECMQ_MOSQUITTO=PATH
# starts that broker instead of /usr/sbin/mosquitto (it must be able to load
# DIR's plugin: a cross build's test runs an arm64 mosquitto, see
# docs/ARM64.md).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${SECMQ_BUILD_DIR:-$PWD/build}
if [ "${SECMQ_DEMO_PREBUILT:-0}" != 1 ]; then
  scripts/deps.sh
  scripts/build.sh "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi

bin=$build/bin
demo=$build/demo
if [ -n "${SECMQ_DEMO_DIR:-}" ]; then
  # A directory of the caller's: made here, never emptied (it must not exist).
  if [ -e "$SECMQ_DEMO_DIR" ]; then
    echo "demo.sh: SECMQ_DEMO_DIR $SECMQ_DEMO_DIR already exists" >&2
    exit 1
  fi
  demo=$SECMQ_DEMO_DIR
fi
for f in "$bin/secmq-certs" "$bin/secmq-admin" "$bin/secmq-pub" \
         "$bin/secmq-sub" "$bin/secmq-keys" "$bin/secmq-file" \
         "$build/lib/secmq_auth.so"; do
  if [ ! -e "$f" ]; then
    echo "demo.sh: $f is missing (not built?)" >&2
    exit 1
  fi
done
rm -rf "$demo"
mkdir -p -m 0700 "$demo"
broker_pid=
cleanup() {
  if [ -n "$broker_pid" ]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }

say "1. A development PKI (CA, broker certificate for localhost/127.0.0.1/::1, EC P-256)"
"$bin/secmq-certs" dev --dir "$demo/pki"

say "2. The broker's auth database: random passwords for sam and alice (0600 files in build/demo, never committed), the seed policy"
admin() { "$bin/secmq-admin" --db "$demo/auth.db" "$@"; }
admin init
for user in sam alice; do
  (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$demo/$user.password")
done
# Two commands each: sam may publish status, alice may read (and subscribe
# to) it; nobody else anything (deny by default).
admin user add sam --password-file "$demo/sam.password"
admin acl add --user sam status write
admin user add alice --password-file "$demo/alice.password"
admin acl add --user alice status read
admin user list | sed 's/^/    /'
admin acl list | sed 's/^/    /'

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
  echo "per_listener_settings false"
  [ "$(id -u)" -eq 0 ] && echo "user root"
  echo "allow_anonymous false"
  echo "plugin $build/lib/secmq_auth.so"
  echo "plugin_opt_database $demo/auth.db"
  echo "plugin_opt_require_signed true"
  # Client ids are the user name or start with it and '-': nobody can
  # take over another user's session by using its client id.
  echo "plugin_opt_client_id_pattern %u %u-*"
  echo "set_tcp_nodelay true"
  echo "listener $port 127.0.0.1"
  echo "cafile $demo/pki/ca.crt"
  echo "certfile $demo/pki/broker.crt"
  echo "keyfile $demo/pki/broker.key"
  echo "tls_version tlsv1.2"
  echo "log_dest file $demo/mosquitto.log"
  echo "log_type error"
  echo "log_type warning"
  echo "log_type notice"
} >"$demo/mosquitto.conf"

say "3. mosquitto with a TLS-only listener on 127.0.0.1:$port and the secmq_auth plugin"
"${SECMQ_MOSQUITTO:-/usr/sbin/mosquitto}" -c "$demo/mosquitto.conf" >>"$demo/mosquitto.out" 2>&1 &
broker_pid=$!
for _ in $(seq 1 50); do
  if /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

say "4. End-to-end keys: an identity each, a channel for 'status' owned by sam"
keys=$demo/keys
mkdir -p -m 0700 "$keys"
for user in sam alice; do
  "$bin/secmq-keys" init --keyring "$keys/$user" --name "$user" >/dev/null
  "$bin/secmq-keys" export --keyring "$keys/$user" >"$keys/$user.pub"
done
"$bin/secmq-keys" channel create --keyring "$keys/sam" --topic status \
  --publisher "$keys/sam.pub" --subscriber "$keys/alice.pub" --out "$keys/grants" >/dev/null
"$bin/secmq-keys" import --keyring "$keys/alice" "$keys/sam.pub" "$keys/grants/alice.grant" >/dev/null
"$bin/secmq-keys" list --keyring "$keys/alice" | sed 's/^/    /'
# The broker accepts on a protected topic only what sam's key signed
# (plugin_opt_require_signed): a stolen password alone cannot inject.
admin key add sam "$keys/sam.pub"

# Each user's connection options live in a 0600 config file, so passwords
# never appear on a command line. The -raw variants have no keyring: they
# see what the broker sees. -I USER gives client ids USER-<pid>, as the
# broker's plugin_opt_client_id_pattern wants (-i on a command line
# replaces it).
for user in sam alice; do
  (umask 077
   cat >"$demo/$user-raw.conf" <<EOF
# secmq client config for $user (same options as on the command line)
-h localhost
-p $port
--cafile $demo/pki/ca.crt
-u $user
-I $user
-P $(cat "$demo/$user.password")
EOF
   { cat "$demo/$user-raw.conf"; echo "--keyring $keys/$user"; } >"$demo/$user.conf")
done

say "5. alice subscribes to 'status' with her keyring (waits for 3 messages)"
"$bin/secmq-sub" --config "$demo/alice.conf" -t status -q 1 -C 3 -F '%t from %S: %p' -W 20 \
  >"$demo/alice.out" 2>"$demo/alice.err" &
sub_pid=$!
# The broker's view: the same subscription without a keyring, payload in hex.
"$bin/secmq-sub" --config "$demo/alice-raw.conf" -i alice-raw -t status -q 1 -C 3 \
  -F '%l bytes: %x' -W 20 >"$demo/broker-view.out" 2>&1 &
raw_pid=$!
sleep 1

say "6. sam publishes three messages to 'status', sealed and signed, over TLS (QoS 0, 1, 2)"
for q in 0 1 2; do
  "$bin/secmq-pub" --config "$demo/sam.conf" -t status -q "$q" -m "sam status update, QoS $q" -d 2>&1 |
    grep -E "debug: TLS: TLSv|^secmq-pub: [^d]" | head -n 1 || true
done

say "7. What alice received (opened, sender verified)"
if wait "$sub_pid"; then
  cat "$demo/alice.out"
else
  echo "alice's subscriber failed:"
  cat "$demo/alice.err"
  exit 1
fi
wait "$raw_pid" || true
echo "What the broker delivered (the start of each envelope):"
cut -c1-100 "$demo/broker-view.out" | sed 's/$/.../; s/^/    /'
if grep -q "$(printf 'sam status update' | od -An -tx1 | tr -d ' \n')" "$demo/broker-view.out"; then
  echo "unexpected: the plaintext is visible to the broker"
  exit 1
fi
echo "    (the plaintext appears nowhere in what the broker saw)"

say "8. What the broker, the TLS checks and the keyrings refuse"
echo "- a wrong password:"
"$bin/secmq-pub" -h localhost -p "$port" --cafile "$demo/pki/ca.crt" -u sam -P wrong \
  -t status -m x 2>&1 | sed 's/^/    /' || true
# The plugin's login guard refuses every login from an address, unchecked,
# for a second after a failed one (plugin_opt_login_pause_ms): the steps
# below log in from the same address, so they wait it out.
echo "    (the login guard now refuses logins from 127.0.0.1 unchecked for 1 s; waiting)"
sleep 1.2
echo "- a broker certificate from an unknown CA (the system CAs are used):"
"$bin/secmq-pub" --no-config -h localhost -p "$port" -u sam -P wrong -t status -m x 2>&1 |
  sed 's/^/    /' || true
echo "- a plaintext client on the TLS port:"
"$bin/secmq-pub" --no-config --no-tls -h localhost -p "$port" -u sam -P wrong -t status -m x 2>&1 |
  sed 's/^/    /' || true
echo "- alice subscribing to '#' (her ACL allows 'status' only; the broker answers SUBACK 0x80):"
"$bin/secmq-sub" --config "$demo/alice-raw.conf" -i alice-wild -t '#' -C 1 -W 2 2>&1 |
  sed 's/^/    /' || true
echo "- sam connecting with alice's client id (her session would be taken over): refused"
"$bin/secmq-sub" --config "$demo/sam-raw.conf" -i alice-files -t status -C 1 -W 2 2>&1 |
  sed 's/^/    /' || true
echo "- alice publishing 'status' with her keyring (she may only read the channel):"
"$bin/secmq-pub" --config "$demo/alice.conf" -t status -q 1 -m "forged by alice" 2>&1 |
  sed 's/^/    /' || true
echo "- alice publishing 'status' raw (the broker's ACL allows her to read only): dropped."
"$bin/secmq-sub" --config "$demo/alice-raw.conf" -i alice-probe -t status -C 1 -W 2 >/dev/null 2>&1 &
probe=$!
sleep 0.5
"$bin/secmq-pub" --config "$demo/alice-raw.conf" -t status -q 1 -m "forged by alice" || true
if wait "$probe"; then
  echo "    unexpected: it was delivered"
  exit 1
else
  echo "    nothing delivered within 2 s"
fi
echo "- a message on 'status' that sam's key did not sign (sam's password with --raw, as a thief would):"
"$bin/secmq-sub" --config "$demo/alice-raw.conf" -i alice-probe2 -t status -C 1 -W 2 >/dev/null 2>&1 &
probe=$!
sleep 0.5
"$bin/secmq-pub" --config "$demo/sam.conf" --raw -t status -q 1 -m "not sealed" || true
if wait "$probe"; then
  echo "    unexpected: it was delivered"
  exit 1
fi
echo "    dropped by the broker; its log says:"
grep "secmq_auth: dropped publish" "$demo/mosquitto.log" | tail -n 1 | sed 's/^[0-9]*: /    /'
echo "- the broker's log of refused logins and subscriptions:"
grep -E "secmq_auth: (refused login|denied)" "$demo/mosquitto.log" | sed 's/^[0-9]*: /    /' || true

say "9. A camera image from sam to alice with secmq-file: sealed manifest, signed and encrypted chunks, resumable"
# The transfer topic 'files': sam writes the manifest (files/m) and the
# chunks (files/c/<id>) and reads alice's requests (files/r/<id>); alice
# the reverse. Her requests are signed too (require_signed), so the broker
# gets her key.
admin acl add --user sam 'files/#' write
admin acl add --user sam 'files/r/#' read
admin acl add --user alice 'files/#' read
admin acl add --user alice 'files/r/#' write
admin key add alice "$keys/alice.pub"
# Two channels (docs/PROTOCOL.md 8.1) in one step: 'files/#' (sam
# publishes, alice reads) and 'files/r/#' (alice publishes her requests,
# sam reads them).
"$bin/secmq-keys" channel create --keyring "$keys/sam" --files files \
  --publisher "$keys/sam.pub" --subscriber "$keys/alice.pub" --out "$keys/grants-xfer" >/dev/null
"$bin/secmq-keys" import --keyring "$keys/alice" "$keys/grants-xfer/files/alice.grant" \
  "$keys/grants-xfer/requests/alice.grant" >/dev/null
sleep 2 # the plugin re-reads its database once a second
# A 1280x1024 colour picture (PPM, 3.9 MB) of camera noise.
{
  printf 'P6\n1280 1024\n255\n'
  head -c $((1280 * 1024 * 3)) /dev/urandom
} >"$demo/cam.ppm"
mkdir -p -m 0700 "$demo/inbox"
"$bin/secmq-file" recv --config "$demo/alice.conf" -i alice-files -c -t files \
  -o "$demo/inbox" -C 1 -W 60 >"$demo/file-recv.out" 2>"$demo/file-recv.err" &
recv_pid=$!
sleep 1
"$bin/secmq-file" send --config "$demo/sam.conf" -i sam-files -c -t files \
  --state "$demo/file-send.db" -W 60 "$demo/cam.ppm" | sed 's/^/    sam: delivered /'
if ! wait "$recv_pid"; then
  echo "alice's receiver failed:"
  cat "$demo/file-recv.err"
  exit 1
fi
sed 's/^/    alice: received /' "$demo/file-recv.out"
(cd "$demo" && sha256sum cam.ppm inbox/cam.ppm) | sed 's/^/    /'
if ! cmp -s "$demo/cam.ppm" "$demo/inbox/cam.ppm"; then
  echo "unexpected: the image differs"
  exit 1
fi
echo "    (identical; the broker saw only the sealed manifest and encrypted chunks)"

say "Done. Files are in $demo (broker log: $demo/mosquitto.log)."
