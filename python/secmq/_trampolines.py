"""_trampolines.py -- the C callbacks of every secmq.Client.

libsecmq calls these (ctypes CFUNCTYPE objects, alive as long as the
module, taking the GIL) with the user pointer given at creation: a small
integer naming the Client in a registry of weak references, so a dropped
client can still be collected. Each turns the C arguments into paho's
Python ones and hands them to the Client, which never lets an exception
out; first it hands the C arguments to the file transfers attached to
the client (files.py), whose messages then go no further. Not for
anything else.
"""

import ctypes
import threading
import weakref

from . import _lib
from .message import (MQTT_LOG_DEBUG, MQTT_LOG_ERR, MQTT_LOG_INFO,
                      MQTT_LOG_WARNING, SEAL_MAC, SEAL_SIGNED, MQTTMessage)

lib = _lib.lib
_LEVEL = {0: MQTT_LOG_ERR, 1: MQTT_LOG_WARNING, 2: MQTT_LOG_INFO,
          3: MQTT_LOG_DEBUG}

# Live clients by id (the C clients' user pointer). Weak, so an unused
# client can be collected; _running holds the ones whose network thread
# runs, as paho's thread holds its client.
_clients = {}
_running = set()
_registry_lock = threading.Lock()
_next_id = [0]
_tls = threading.local()


# ctypes gives a library thread a new Python thread state for each
# callback and destroys it afterwards (its threading.local with it), which
# costs more than the callback. Taking the GIL state once more on the
# thread's first callback, never released, keeps one for the thread's life.
_ensure = ctypes.pythonapi.PyGILState_Ensure
_ensure.restype = ctypes.c_int
_ensure.argtypes = []


def _pin():
    if not getattr(_tls, "pinned", False):
        _ensure()
        _tls.pinned = True


def _register(client) -> int:
    with _registry_lock:
        _next_id[0] += 1
        key = _next_id[0]
        _clients[key] = weakref.ref(client,
                                    lambda _ref: _clients.pop(key, None))
        return key


# File transfers (files.py) by client id: a tuple, replaced whole, so the
# network thread reads it without a lock. Each link has _on_connect,
# _on_message (True: consumed), _on_subscribe, _on_publish and
# _on_delivered (True: the packet or row was the transfer's), _on_durable,
# _created(h) and _client_gone().
_links = {}


def _link(client, link):
    with _registry_lock:
        _links[client._id] = _links.get(client._id, ()) + (link,)


def _unlink(client, link):
    with _registry_lock:
        rest = tuple(x for x in _links.get(client._id, ()) if x is not link)
        if rest:
            _links[client._id] = rest
        else:
            _links.pop(client._id, None)


def _links_created(client, h):
    """Client.connect(): a new C client h, before it connects; transfers
    made before it get their C objects now (raises their errors)."""
    for link in _links.get(client._id, ()):
        link._created(h)


def _links_closing(client):
    """Client._destroy(): the C client is about to be freed, its network
    thread stopped; the transfers that borrow it are closed first."""
    for link in _links.get(client._id, ()):
        link._client_gone()


def _one_level(rest: bytes) -> bool:
    return b"/" not in rest


def _leftover(client, topic: bytes) -> bool:
    """True when topic is one a closed file transfer of client was
    subscribed to (the client stays subscribed: files.py close()):
    TOPIC/r/+ of a sender, TOPIC/m and TOPIC/c/+ of a receiver."""
    for side, t in tuple(client._closed_transfers):
        if side == "sender":
            p = t + b"/r/"
            if topic.startswith(p) and _one_level(topic[len(p):]):
                return True
        else:
            p = t + b"/c/"
            if topic == t + b"/m" or (topic.startswith(p) and
                                      _one_level(topic[len(p):])):
                return True
    return False


def _lookup(user):
    _pin()
    ref = _clients.get(user or 0)
    return ref() if ref is not None else None


# One set of C callbacks for every client, alive as long as the module
# (ctypes needs the CFUNCTYPE objects to outlive every call from C). Each
# finds its Client by the user pointer and never lets an exception out.

@_lib.CONNECT_CB
def _c_connect(c, user, rc, reason, session_present):
    client = _lookup(user)
    if client is not None:
        client._connected = rc == 0
        if rc == 0:
            for link in _links.get(user, ()):
                link._on_connect(session_present)
        client._invoke("on_connect", {"session present": session_present},
                       reason)


@_lib.DISCONNECT_CB
def _c_disconnect(c, user, rc):
    client = _lookup(user)
    if client is not None:
        client._connected = False
        client._invoke("on_disconnect", rc)


@_lib.MESSAGE_CB
def _c_message(c, user, m):
    client = _lookup(user)
    if client is None:
        return
    for link in _links.get(user, ()):
        if link._on_message(m):
            return
    m = m.contents
    if client._closed_transfers and _leftover(client, m.topic or b""):
        return
    mode = {1: SEAL_SIGNED, 2: SEAL_MAC}.get(m.seal_mode)
    sender = _lib.text(m.sender)
    msg = MQTTMessage(
        topic=_lib.text(m.topic),
        payload=ctypes.string_at(m.payload, m.payloadlen) if m.payloadlen
        else b"",
        qos=m.qos, retain=bool(m.retain), mid=m.mid, sealed=bool(m.sealed),
        sender=sender if mode == SEAL_SIGNED else None,
        claimed_sender=sender if mode == SEAL_MAC else None, seal_mode=mode)
    client._invoke("on_message", msg)


@_lib.PUBLISH_CB
def _c_publish(c, user, mid, rc):
    client = _lookup(user)
    if client is not None:
        for link in _links.get(user, ()):
            if link._on_publish(mid, rc):
                # A transfer's chunk, manifest or request: not the
                # application's, so neither on_publish nor the ack table.
                return
        if client._orphan_take("pub", mid):
            return      # of a transfer closed before its ack came
        client._acked("pub", mid, rc)


@_lib.DELIVERED_CB
def _c_delivered(c, user, row, rc):
    client = _lookup(user)
    if client is not None:
        for link in _links.get(user, ()):
            if link._on_delivered(row, rc):
                return      # a transfer's row: not the application's
        if client._orphan_take("row", row):
            return
        client._acked("row", row, rc)


@_lib.DURABLE_CB
def _c_durable(c, user, row, rc):
    """An outbox row committed (set by files.py for a sender that
    publishes through the client's outbox)."""
    if _lookup(user) is not None:
        for link in _links.get(user, ()):
            link._on_durable(row, rc)


@_lib.SUBSCRIBE_CB
def _c_subscribe(c, user, mid, count, granted):
    client = _lookup(user)
    if client is not None:
        for link in _links.get(user, ()):
            link._on_subscribe(mid, count, granted)
        client._acked("sub", mid, tuple(granted[i] for i in range(count)))


@_lib.UNSUBSCRIBE_CB
def _c_unsubscribe(c, user, mid):
    client = _lookup(user)
    if client is not None:
        client._acked("unsub", mid, None)


@_lib.LOG_CB
def _c_log(c, user, level, line):
    client = _lookup(user)
    if client is not None:
        client._library_log(_LEVEL.get(level, MQTT_LOG_DEBUG),
                            _lib.text(line))


@_lib.OPEN_FAILURE_CB
def _c_open_failure(c, user, topic, reason):
    client = _lookup(user)
    if client is None:
        return
    name = _lib.text(lib.secmq_open_reason_name(reason))
    topic = _lib.text(topic)
    if client.on_open_failure is None:
        client._emit(MQTT_LOG_WARNING, "dropped a message on %r that did "
                     "not open: %s" % (topic, name))
    else:
        client._invoke("on_open_failure", topic, name)


@_lib.RECEIPT_CB
def _c_receipt(c, user, row, rc, got, need):
    """An outbox row held for receipts is settled (secmq/receipt.h), on
    the network thread or the outbox's commit thread; before the row's
    on_delivered."""
    client = _lookup(user)
    if client is not None:
        client._invoke("on_receipt", row, rc, got, need)
