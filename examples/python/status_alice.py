#!/usr/bin/python3
"""status_alice.py -- alice's side of the `status` example, in Python with
secmq (the paho-mqtt script with its import and connection lines changed;
status_sam.py is sam's side). README.md shows the same program without
its options ("From paho to secmq in Python").

Subscribes to `status` (QoS 1) on every (re)connect and prints each
message opened with alice's keyring as "status from <sender>: <text>",
the sender proved by its signature. Messages the keyring refuses (not
sealed, forged, replayed, from an identity that may not publish there)
are not printed; each is said on stderr. Prints "listening on status"
(stderr) once subscribed.

    status_alice.py --cafile ca.crt -u alice --keyring ~/.secmq/alice
                                                    (SECMQ_PASSWORD)
Exit codes: 0 after Ctrl-C/SIGTERM (or -C messages), 1 the keyring
cannot be opened, 2 bad usage (no SECMQ_PASSWORD for -u), 3 could not
connect.
"""

import argparse
import os
import signal
import sys

import secmq

TOPIC = "status"


def on_connect(client, userdata, flags, rc):
    client.subscribe("status", qos=1)


def on_subscribe(client, userdata, mid, granted_qos):
    print("listening on %s" % TOPIC, file=sys.stderr, flush=True)


def on_message(client, userdata, msg):
    print("%s from %s: %s" % (msg.topic, msg.sender, msg.payload.decode()),
          flush=True)
    userdata["left"] -= 1
    if userdata["left"] == 0:
        client.disconnect()               # -C messages: loop_forever returns


def on_open_failure(client, userdata, topic, reason):
    print("status_alice: refused a message on %s: %s" % (topic, reason),
          file=sys.stderr, flush=True)


def stop(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description="print the status messages "
                                 "and who sent them")
    ap.add_argument("--host", default="localhost")
    ap.add_argument("-p", "--port", type=int, default=8883)
    ap.add_argument("--cafile")
    ap.add_argument("-u", "--username")
    ap.add_argument("-i", "--id", default="")
    ap.add_argument("--keyring", required=True,
                    help="alice's keyring (secmq-keys), with sam's grant")
    ap.add_argument("-C", "--count", type=int, default=0,
                    help="exit after this many messages (0: never)")
    a = ap.parse_args()
    password = os.environ.get("SECMQ_PASSWORD")
    if a.username and password is None:
        ap.error("-u %s needs the password in SECMQ_PASSWORD" % a.username)

    try:
        client = secmq.Client(client_id=a.id, keyring=a.keyring,
                              userdata={"left": a.count})
    except secmq.Error as e:
        print("status_alice: %s" % e, file=sys.stderr)
        return 1
    client.tls_set(ca_certs=a.cafile)
    if a.username:
        client.username_pw_set(a.username, password)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_open_failure = on_open_failure
    try:
        client.connect(a.host, a.port)
    except secmq.Error as e:
        print("status_alice: %s" % e, file=sys.stderr)
        return 3
    signal.signal(signal.SIGTERM, stop)
    client.loop_forever()                 # returns on Ctrl-C, cleanly
    return 0


if __name__ == "__main__":
    sys.exit(main())
