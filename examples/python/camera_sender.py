#!/usr/bin/python3
"""camera_sender.py -- the camera of a camera/dashboard pair, in Python
with secmq (the paho-mqtt script that published a Pi camera's image,
with its import, connection and publish lines changed; see
camera_receiver.py for the dashboard).

Where the paho script read the camera's picture and did
client.publish("camera", bytearray(image)), this one sends the image file
named on the command line with secmq.send_file(): encrypted end to end,
in signed chunks, resumed after an interruption (--state), and confirmed
by the dashboard, whose name it prints: "sent NAME (SIZE bytes) to PEER".
The keyring must make this identity a publisher of a channel covering
TOPIC/# (or TOPIC/m and TOPIC/c/#) and a subscriber of one covering
TOPIC/r/# (docs/PROTOCOL.md §8.1).

    camera_sender.py --cafile ca.crt -u sam --keyring ~/.secmq/sam \\
        image.jpg                                          (SECMQ_PASSWORD)
Exit codes: 0 delivered; 1 the keyring lacks a channel (the message
names it), or the image was refused, failed or not confirmed within
--timeout; 3 could not connect.
"""

import argparse
import os
import sys

import secmq


def main():
    ap = argparse.ArgumentParser(description="send a camera image")
    ap.add_argument("image", help="the image file to send")
    ap.add_argument("--host", default="localhost")
    ap.add_argument("-p", "--port", type=int, default=8883)
    ap.add_argument("--cafile")
    ap.add_argument("-u", "--username")
    ap.add_argument("-i", "--id", default="")
    ap.add_argument("-t", "--topic", default="camera")
    ap.add_argument("--keyring", required=True)
    ap.add_argument("--state", help="progress file, to resume after a "
                    "restart")
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()

    client = secmq.Client(client_id=a.id)
    client.tls_set(ca_certs=a.cafile)
    if a.username:
        client.username_pw_set(a.username, os.environ.get("SECMQ_PASSWORD"))
    client.loop_start()
    try:
        client.connect(a.host, a.port)
    except secmq.Error as e:
        print("camera_sender: %s" % e, file=sys.stderr)
        return 3
    try:
        done = secmq.send_file(client, a.image, a.topic, keyring=a.keyring,
                               state=a.state, timeout=a.timeout)
    except secmq.Error as e:
        print("camera_sender: %s" % e, file=sys.stderr)
        return 1
    finally:
        client.disconnect()
        client.loop_stop()
    print("sent %s (%d bytes) to %s" % (done.name, done.size, done.peer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
