#!/usr/bin/python3
"""camera_receiver.py -- the dashboard of a camera/dashboard pair, in
Python with secmq (the paho-mqtt script that subscribed to the camera's
topic and wrote each image to a file, with its import, connection and
on_message lines changed; see camera_sender.py for the camera).

Where the paho script's on_message wrote msg.payload to a file, a
secmq.FileReceiver writes each image announced on TOPIC into --output
under its announced name, after checking that it is whole and comes from
a sender the keyring trusts; on_file prints "received NAME (SIZE bytes)
from SENDER: PATH". Ends after --count images (0: runs until Ctrl-C or
SIGTERM). The keyring must hold a channel covering TOPIC/# (or TOPIC/m
and TOPIC/c/#) and make this identity a publisher of one covering
TOPIC/r/# (docs/PROTOCOL.md §8.1). Use a fixed -i ID so images sent
while it is away wait at the broker.

    camera_receiver.py --cafile ca.crt -u alice -i alice-dash \\
        --keyring ~/.secmq/alice -o images                (SECMQ_PASSWORD)
Exit codes: 0 after --count images or Ctrl-C/SIGTERM, 1 the receiver
failed (e.g. its keyring lacks a channel: the message names it), 3 could
not connect.
"""

import argparse
import os
import signal
import sys

import secmq


def on_file(event):
    print("received %s (%d bytes) from %s: %s"
          % (event.name, event.size, event.peer, event.path), flush=True)


def stop(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description="receive camera images")
    ap.add_argument("--host", default="localhost")
    ap.add_argument("-p", "--port", type=int, default=8883)
    ap.add_argument("--cafile")
    ap.add_argument("-u", "--username")
    ap.add_argument("-i", "--id", default="")
    ap.add_argument("-t", "--topic", default="camera")
    ap.add_argument("-o", "--output", default=".",
                    help="directory the images are written into")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--keyring", required=True)
    a = ap.parse_args()

    client = secmq.Client(client_id=a.id, clean_session=not a.id)
    client.tls_set(ca_certs=a.cafile)
    if a.username:
        client.username_pw_set(a.username, os.environ.get("SECMQ_PASSWORD"))
    try:
        receiver = secmq.FileReceiver(client, a.topic, a.output,
                                      keyring=a.keyring, on_file=on_file)
    except secmq.Error as e:
        print("camera_receiver: %s" % e, file=sys.stderr)
        return 1
    client.loop_start()
    try:
        client.connect(a.host, a.port)
    except secmq.Error as e:
        print("camera_receiver: %s" % e, file=sys.stderr)
        receiver.close()
        return 3
    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        receiver.wait(a.count if a.count > 0 else sys.maxsize)
    except KeyboardInterrupt:
        pass
    except secmq.Error as e:
        print("camera_receiver: %s" % e, file=sys.stderr)
        code = 1
    receiver.close()            # lets the last answers reach the senders
    client.disconnect()
    client.loop_stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
