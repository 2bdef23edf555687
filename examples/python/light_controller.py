#!/usr/bin/python3
"""light_controller.py -- the light of a light-switch pair, in Python with
secmq (the paho-mqtt script with its import and connection lines changed;
see light_dashboard.py for the switch).

The light starts OFF and obeys ON, OFF and TOGGLE sent to
home/light/control (QoS 1), answering each command with its state, "ON"
or "OFF", retained at QoS 1 on home/light/status (also once at every
connect). Its will puts "OFFLINE" there if it vanishes; on Ctrl-C or
SIGTERM it says OFFLINE itself, since a clean disconnect suppresses the
will. Prints "<COMMAND>: light is <STATE>" per command and
"listening on home/light/control" (stderr) once subscribed.

    light_controller.py --cafile ca.crt -u sam          (SECMQ_PASSWORD)
    light_controller.py --cafile ca.crt -u sam --keyring ~/.secmq/sam
Exit codes: 0 after Ctrl-C/SIGTERM, 3 could not connect.
"""

import argparse
import os
import signal
import sys
import threading

import secmq

CONTROL = "home/light/control"
STATUS = "home/light/status"
state = {"on": False}


def on_connect(client, userdata, flags, rc):
    client.subscribe(CONTROL, qos=1)      # on every (re)connect
    client.publish(STATUS, "ON" if state["on"] else "OFF", qos=1,
                   retain=True)


def on_subscribe(client, userdata, mid, granted_qos):
    print("listening on %s" % CONTROL, file=sys.stderr, flush=True)


def on_message(client, userdata, msg):
    if msg.retain:
        return                            # an old command, not for now
    command = msg.payload.decode("utf-8", "replace")
    if command == "ON":
        state["on"] = True
    elif command == "OFF":
        state["on"] = False
    elif command == "TOGGLE":
        state["on"] = not state["on"]
    else:
        print("ignoring unknown command %r" % command, file=sys.stderr)
        return
    text = "ON" if state["on"] else "OFF"
    client.publish(STATUS, text, qos=1, retain=True)
    print("%s: light is %s" % (command, text), flush=True)


def stop(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description="the light of a light switch")
    ap.add_argument("--host", default="localhost")
    ap.add_argument("-p", "--port", type=int, default=8883)
    ap.add_argument("--cafile")
    ap.add_argument("-u", "--username")
    ap.add_argument("-i", "--id", default="")
    ap.add_argument("--keyring")
    a = ap.parse_args()

    client = secmq.Client(client_id=a.id, keyring=a.keyring)
    client.tls_set(ca_certs=a.cafile)
    if a.username:
        client.username_pw_set(a.username, os.environ.get("SECMQ_PASSWORD"))
    client.will_set(STATUS, "OFFLINE", qos=1, retain=True)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.loop_start()
    try:
        client.connect(a.host, a.port)
    except secmq.Error as e:
        print("light_controller: %s" % e, file=sys.stderr)
        return 3
    signal.signal(signal.SIGTERM, stop)
    try:
        threading.Event().wait()          # until Ctrl-C or SIGTERM
    except KeyboardInterrupt:
        pass
    client.publish(STATUS, "OFFLINE", qos=1, retain=True) \
        .wait_for_publish(2)
    client.disconnect()
    client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
