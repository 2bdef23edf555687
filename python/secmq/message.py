"""message.py -- what a Client hands out: received messages, publish
tickets, and the paho-mqtt constants scripts use with them.

MQTTMessage and MQTTMessageInfo have the attributes and methods of
paho-mqtt 1.6's classes of the same names (plus sender and sealed), so
code written for paho reads them unchanged. No network code here.
"""

import threading
import time
from typing import Optional

# paho-mqtt's constants, same values.
MQTTv31 = 3
MQTTv311 = 4
MQTTv5 = 5
MQTT_ERR_SUCCESS = 0
MQTT_ERR_NO_CONN = 4
MQTT_LOG_INFO = 0x01
MQTT_LOG_NOTICE = 0x02
MQTT_LOG_WARNING = 0x04
MQTT_LOG_ERR = 0x08
MQTT_LOG_DEBUG = 0x10
CONNACK_ACCEPTED = 0
CONNACK_REFUSED_PROTOCOL_VERSION = 1
CONNACK_REFUSED_IDENTIFIER_REJECTED = 2
CONNACK_REFUSED_SERVER_UNAVAILABLE = 3
CONNACK_REFUSED_BAD_USERNAME_PASSWORD = 4
CONNACK_REFUSED_NOT_AUTHORIZED = 5

# Seal modes (secmq/envelope.h), as msg.seal_mode.
SEAL_SIGNED = "signed"
SEAL_MAC = "mac"


class MQTTMessage:
    """A received message, as paho's MQTTMessage.

    topic (str), payload (bytes), qos, retain (bool), mid (0 for QoS 0);
    with a keyring also sealed (True when it was opened from an
    envelope), sender (the sender's identity name, PROVED by its
    signature; None when not sealed, and None in mac-only mode, which
    proves only that some member of the channel sent it),
    claimed_sender (mac-only: the name the envelope claims, unproved)
    and seal_mode ("signed", "mac" or None). timestamp is
    time.monotonic() at arrival, as in paho.
    """

    __slots__ = ("topic", "payload", "qos", "retain", "mid", "sealed",
                 "sender", "claimed_sender", "seal_mode", "timestamp",
                 "dup", "state", "properties")

    def __init__(self, topic: str = "", payload: bytes = b"", qos: int = 0,
                 retain: bool = False, mid: int = 0, sealed: bool = False,
                 sender: Optional[str] = None,
                 claimed_sender: Optional[str] = None,
                 seal_mode: Optional[str] = None):
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.mid = mid
        self.sealed = sealed
        self.sender = sender
        self.claimed_sender = claimed_sender
        self.seal_mode = seal_mode
        self.timestamp = time.monotonic()
        self.dup = False
        self.state = 0
        self.properties = None

    def __repr__(self) -> str:
        return ("<MQTTMessage topic=%r payload=%r qos=%d retain=%r mid=%d "
                "sealed=%r sender=%r>" % (self.topic, self.payload[:40],
                                         self.qos, self.retain, self.mid,
                                         self.sealed, self.sender))


class MQTTMessageInfo:
    """Returned by Client.publish(), as paho's MQTTMessageInfo: rc (always
    MQTT_ERR_SUCCESS: a publish that fails raises instead), mid (the
    packet id on_publish will report), wait_for_publish(timeout) and
    is_published(). Unpacks as (rc, mid) like paho's. With an outbox, a
    QoS 1/2 message has mid 0 and id, its row in the outbox: it was
    committed to the file before publish() returned, and is published
    once the broker acknowledged it (on_delivered)."""

    __slots__ = ("mid", "rc", "id", "_published", "_cond")

    def __init__(self, mid: int, cond: Optional[threading.Condition] = None):
        self.mid = mid
        self.id = 0
        self.rc = MQTT_ERR_SUCCESS
        self._published = False
        # The client's condition, shared by all its tickets (one per
        # publish would cost more than the publish).
        self._cond = cond if cond is not None else threading.Condition()

    def __iter__(self):
        return iter((self.rc, self.mid))

    def __getitem__(self, index: int) -> int:
        return (self.rc, self.mid)[index]

    def __str__(self) -> str:
        return str((self.rc, self.mid))

    def _set_published(self) -> None:
        with self._cond:
            self._published = True
            self._cond.notify_all()

    def wait_for_publish(self, timeout: Optional[float] = None) -> bool:
        """Block until the message is published (QoS 0: handed to the
        network; QoS 1: PUBACK; QoS 2: PUBCOMP) or timeout seconds pass
        (None: no limit). Returns is_published()."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._published:
                if deadline is None:
                    self._cond.wait(1.0)
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._published

    def is_published(self) -> bool:
        """True once the message is published (see wait_for_publish)."""
        with self._cond:
            return self._published
