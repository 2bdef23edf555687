#!/usr/bin/python3
"""status_sam.py -- sam's side of the `status` example, in Python with
secmq (the paho-mqtt script with its import and connection lines changed;
status_alice.py is alice's side).

Publishes each MESSAGE argument, or without any each non-empty line of
stdin until its end, on `status` at QoS 1, sealed with sam's keyring:
the broker and anyone else without a grant see only ciphertext, and
alice's keyring proves it came from sam. Each message is acknowledged by
the broker before the next is read; "sent: <message>" goes to stderr.
Without --keyring the messages go out as they are (TLS only).

With --outbox FILE each message is committed to that sqlite file (only
ciphertext, with a keyring) before it is sent. When the broker cannot be
reached, at the start or later, the messages are committed and said as
"queued: <message>", and the next run with the same FILE sends them
first, in order.

    status_sam.py --cafile ca.crt -u sam --keyring ~/.secmq/sam "door closed"
    sensor | status_sam.py --cafile ca.crt -u sam --keyring ~/.secmq/sam
                                                    (SECMQ_PASSWORD)
    status_sam.py ... --outbox /var/lib/status/outbox.db "door closed"
Exit codes: 0 every message acknowledged (or Ctrl-C/SIGTERM between
them), 75 with --outbox: messages wait in FILE for the broker, 1 a
message was refused (e.g. NoKeyError: the keyring gives this identity no
key to publish on status) or not acknowledged within 10 s, or the
keyring or the outbox cannot be opened, 2 bad usage (no SECMQ_PASSWORD
for -u), 3 could not connect. An MQTT 3.1.1 broker acknowledges a
message its ACL drops: a login that may not publish on status gets exit
0, and nobody receives the message.
"""

import argparse
import os
import signal
import sys

import secmq

TOPIC = "status"
ACK_TIMEOUT_S = 10


def messages(args):
    """The MESSAGE arguments, or the lines of stdin as they come."""
    if args:
        yield from args
        return
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line:
            yield line


def stop(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description="publish status messages")
    ap.add_argument("message", nargs="*",
                    help="messages to send (default: the lines of stdin)")
    ap.add_argument("--host", default="localhost")
    ap.add_argument("-p", "--port", type=int, default=8883)
    ap.add_argument("--cafile")
    ap.add_argument("-u", "--username")
    ap.add_argument("-i", "--id", default="")
    ap.add_argument("--keyring", help="sam's keyring (secmq-keys)")
    ap.add_argument("--outbox", help="commit each message to this sqlite "
                    "file before sending it; the next run sends what the "
                    "broker did not acknowledge")
    a = ap.parse_args()
    password = os.environ.get("SECMQ_PASSWORD")
    if a.username and password is None:
        ap.error("-u %s needs the password in SECMQ_PASSWORD" % a.username)

    try:
        client = secmq.Client(client_id=a.id, keyring=a.keyring,
                              outbox=a.outbox)
    except secmq.Error as e:
        print("status_sam: %s" % e, file=sys.stderr)
        return 1
    client.tls_set(ca_certs=a.cafile)
    if a.username:
        client.username_pw_set(a.username, password)
    client.loop_start()
    away = False                          # the broker cannot be reached
    try:
        client.connect(a.host, a.port)
    except (secmq.NetworkError, secmq.TimeoutError) as e:
        print("status_sam: %s" % e, file=sys.stderr)
        if not a.outbox:
            return 3
        away = True
    except secmq.Error as e:
        print("status_sam: %s" % e, file=sys.stderr)
        return 3
    signal.signal(signal.SIGTERM, stop)
    rc = 0
    try:
        for text in messages(a.message):
            info = client.publish(TOPIC, text, qos=1)
            if not away and info.wait_for_publish(ACK_TIMEOUT_S):
                print("sent: %s" % text, file=sys.stderr, flush=True)
            elif a.outbox:
                away = True               # committed: sent by a later run
                print("queued: %s" % text, file=sys.stderr, flush=True)
            else:
                print("status_sam: %r not acknowledged within %d s"
                      % (text, ACK_TIMEOUT_S), file=sys.stderr)
                rc = 1
                break
        if a.outbox and not away:         # rows an earlier run left too
            client.outbox_wait(ACK_TIMEOUT_S)
    except secmq.TimeoutError:
        away = True
    except secmq.Error as e:
        print("status_sam: %s" % e, file=sys.stderr)
        rc = 1
    except KeyboardInterrupt:
        pass
    if away and rc == 0:
        print("status_sam: %d message(s) wait in %s for the broker; the "
              "next run with it sends them first"
              % (client.outbox_stats()["rows"], a.outbox), file=sys.stderr)
        rc = 75
    client.disconnect()
    client.loop_stop()
    return rc


if __name__ == "__main__":
    sys.exit(main())
