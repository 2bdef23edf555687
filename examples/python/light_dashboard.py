#!/usr/bin/python3
"""light_dashboard.py -- the switch of a light-switch pair, in Python with
secmq (see light_controller.py for the light).

Sends one command, ON, OFF or TOGGLE, to home/light/control (QoS 1) and
prints the light's answer from home/light/status: "<COMMAND>: light is
<STATE>". The retained status that arrives at subscribe time is the
state before the command, so it is skipped; the first live one is the
answer.

    light_dashboard.py --cafile ca.crt -u sam TOGGLE    (SECMQ_PASSWORD)
Exit codes: 0 answered, 1 no answer in 10 s, 3 could not connect.
"""

import argparse
import os
import queue
import sys

import secmq

CONTROL = "home/light/control"
STATUS = "home/light/status"


def main():
    ap = argparse.ArgumentParser(description="the switch of a light")
    ap.add_argument("command", choices=("ON", "OFF", "TOGGLE"))
    ap.add_argument("--host", default="localhost")
    ap.add_argument("-p", "--port", type=int, default=8883)
    ap.add_argument("--cafile")
    ap.add_argument("-u", "--username")
    ap.add_argument("--keyring")
    a = ap.parse_args()

    answers = queue.Queue()
    subscribed = queue.Queue()
    client = secmq.Client(keyring=a.keyring)
    client.tls_set(ca_certs=a.cafile)
    if a.username:
        client.username_pw_set(a.username, os.environ.get("SECMQ_PASSWORD"))
    client.on_subscribe = lambda c, u, mid, granted: subscribed.put(granted)
    client.on_message = lambda c, u, msg: None if msg.retain else \
        answers.put(msg.payload.decode("utf-8", "replace"))
    client.loop_start()
    try:
        client.connect(a.host, a.port)
    except secmq.Error as e:
        print("light_dashboard: %s" % e, file=sys.stderr)
        return 3
    client.subscribe(STATUS, qos=1)
    subscribed.get(timeout=10)
    client.publish(CONTROL, a.command, qos=1)
    try:
        print("%s: light is %s" % (a.command, answers.get(timeout=10)))
        rc = 0
    except queue.Empty:
        print("light_dashboard: no answer from the light", file=sys.stderr)
        rc = 1
    client.disconnect()
    client.loop_stop()
    return rc


if __name__ == "__main__":
    sys.exit(main())
