"""_acks.py -- matching the broker's acks to the calls that caused them.

publish() returns an MQTTMessageInfo and subscribe()/unsubscribe() report
one on_subscribe/on_unsubscribe per call, as in paho; libsecmq reports an
ack per packet id (and one SUBSCRIBE per filter), possibly before the call
that sent it has returned. This mixin of Client keeps what waits for which
ack and what arrived early. No network code.
"""

from . import _lib
from .message import MQTT_LOG_WARNING


class _Group:
    """The C mids of one subscribe()/unsubscribe() call: libsecmq sends a
    packet per filter, paho's callbacks report one call."""

    __slots__ = ("kind", "mids", "results")

    def __init__(self, kind, mids):
        self.kind = kind
        self.mids = mids
        self.results = {}


class _Acks:
    """Ack bookkeeping of Client (uses its _lock, _pending, _early,
    _orphans, _invoke and _emit)."""

    def _register(self, kind, mids, what) -> bool:
        """Remember what waits for the acks of mids; take the acks that
        came before this call returned. True when all are in."""
        with self._lock:
            for m in mids:
                key = (kind, m)
                if key in self._early:
                    result = self._early.pop(key)
                    if kind not in ("pub", "row"):
                        what.results[m] = result
                else:
                    self._pending[key] = what
            if kind in ("pub", "row"):
                return (kind, mids[0]) not in self._pending
            done = len(what.results) == len(what.mids)
            if done:
                for m in what.mids:
                    self._pending.pop((kind, m), None)
            return done

    def _acked(self, kind, mid, result):
        """An ack from the library (network thread)."""
        key = (kind, mid)
        with self._lock:
            what = self._pending.pop(key, None)
            if what is None:
                # Acked before publish()/subscribe() returned: the call
                # takes the result when it registers.
                if len(self._early) > 65536:
                    self._early.clear()
                self._early[key] = result
                if kind not in ("pub", "row"):
                    return
            if kind not in ("pub", "row"):
                what.results[mid] = result
                if len(what.results) < len(what.mids):
                    return
                for m in what.mids:
                    self._pending.pop((kind, m), None)
        if kind == "row":
            # An outbox row left the queue (secmq/outbox.h on_delivered).
            if what is not None:
                what._set_published()
            self._invoke("on_delivered", mid, result)
        elif kind == "pub":
            if result != 0:
                self._emit(MQTT_LOG_WARNING, "the broker refused publish "
                           "mid %d: %s" % (mid, _lib.strerror(result)))
            if what is not None:
                what._set_published()
            self._invoke("on_publish", mid)
        else:
            self._fire(what)

    def _orphan_add(self, keys):
        """A file transfer is being freed with these (kind, id) awaiting
        their acks (files.py close())."""
        with self._lock:
            self._orphans.update(keys)

    def _orphan_take(self, kind, ident) -> bool:
        """True (and forgotten) when the ack is a closed transfer's."""
        if not self._orphans:
            return False
        with self._lock:
            try:
                self._orphans.remove((kind, ident))
                return True
            except KeyError:
                return False

    def _fire(self, group):
        if group.kind == "sub":
            granted = []
            for m in group.mids:
                granted.extend(group.results[m])
            self._invoke("on_subscribe", group.mids[0], tuple(granted))
        else:
            self._invoke("on_unsubscribe", group.mids[0])
