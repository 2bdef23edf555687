"""_receipts.py -- end-to-end receipts (docs/PROTOCOL.md §9) of a
secmq.Client, from Python.

Both sides are libsecmq's (secmq/receipt.h): a receiver with a keyring
sends receipts for what it opened by itself, a sender with a keyring and
an outbox holds each row of a channel with receipts until the receipters
it needs have receipted it. This mixin of Client keeps the settings until
the C client is made (set_receipts, set_receipt_wait), hands them over
there, and reads the counters and a row's state back. Not for anything
else: nothing here is on the wire.
"""

import ctypes
from typing import Optional

from . import _lib
from ._trampolines import _c_receipt
from .errors import InvalidArgumentError, StateError, from_code

lib = _lib.lib
E_INVAL = -1
ROW_STATES = {1: "queued", 2: "handed", 3: "awaiting"}
_MS_MAX = 3600000


def _count(name, value, low, high):
    """value as an int within low..high, or InvalidArgumentError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError("receipts: %s must be a whole number, "
                                   "not %r" % (name, value))
    if not low <= value <= high:
        raise InvalidArgumentError("receipts: %s %d is not within %d..%d"
                                   % (name, value, low, high))
    return value


class _Receipts:
    """Receipt methods of Client (uses its _h, _staged, _outbox_use,
    _outbox_cfg and _counters). The settings live in class
    defaults until set, so Client.__init__ needs nothing for them."""

    _receipts_batch = None     # (max_msgs, max_delay_ms)
    _receipts_wait = None      # {"resend_ms": ..., ...}
    on_receipt = None

    def _receipts_settable(self, what):
        if self._h is not None and not self._staged:
            raise StateError("%s() must come before connect()" % what)

    def set_receipts(self, max_msgs: int = 0, max_delay_ms: int = 0) -> None:
        """As a receiver (a keyring naming this identity a receipter of a
        channel): send a receipt after max_msgs messages of a channel
        (1..65535) or max_delay_ms after the oldest one not yet receipted
        (1..60000), whichever comes first; 0 keeps the library's default
        (64 messages, 100 ms). Before connect() (StateError after)."""
        self._receipts_settable("set_receipts")
        self._receipts_batch = (_count("max_msgs", max_msgs, 0, 65535),
                                _count("max_delay_ms", max_delay_ms, 0,
                                       60000))

    def set_receipt_wait(self, resend_ms: Optional[int] = None,
                         resend_max_ms: Optional[int] = None,
                         give_up_ms: Optional[int] = None,
                         window: Optional[int] = None) -> None:
        """As a sender with an outbox: how a row of a channel with
        receipts waits for them. No receipt resend_ms after the broker's
        PUBACK: the row is sent again, then after twice that, up to
        resend_max_ms between tries; give_up_ms after it was first sent
        it is given up (on_receipt and on_delivered with
        NoReceiptError.rc); window: sequence numbers per key sent and not
        yet receipted (1..64; 0: no window, the stream never waits for
        receipts, but a resend more than 64 behind a receiver's newest is
        refused there as a replay). None keeps the library's default
        (2000, 30000, 600000 ms, 64). Before connect() (StateError
        after)."""
        self._receipts_settable("set_receipt_wait")
        w = {}
        for name, value, low, high in (
                ("resend_ms", resend_ms, 1, _MS_MAX),
                ("resend_max_ms", resend_max_ms, 1, _MS_MAX),
                ("give_up_ms", give_up_ms, 1, 2 ** 64 - 1),
                ("window", window, 0, 64)):
            if value is not None:
                w[name] = _count(name, value, low, high)
        self._receipts_wait = w
        # Checked by the library now (resend_max_ms >= resend_ms, ...),
        # not at connect().
        self._receipt_wait_struct()

    def _receipt_wait_struct(self):
        rw = _lib.ReceiptWait()
        lib.secmq_receipt_wait_init(ctypes.byref(rw))
        for name, value in (self._receipts_wait or {}).items():
            setattr(rw, name, value)
        if rw.resend_max_ms < rw.resend_ms:
            raise InvalidArgumentError(
                "receipts: resend_max_ms %d is less than resend_ms %d"
                % (rw.resend_max_ms, rw.resend_ms))
        return rw

    def _receipts_attach(self, h):
        """The settings and on_receipt on a new C client (Client._setup),
        before it connects."""
        if self._receipts_batch is not None:
            rc = lib.secmq_client_set_receipts(h, *self._receipts_batch)
            if rc != 0:
                raise from_code(rc, "receipts: %s" % _lib.strerror(rc))
        if self._receipts_wait is not None:
            rw = self._receipt_wait_struct()
            rc = lib.secmq_client_set_receipt_wait(h, ctypes.byref(rw))
            if rc != 0:
                raise from_code(rc, "receipts: %s" % _lib.strerror(rc))
        if self._outbox_cfg is not None:
            lib.secmq_client_on_receipt(h, _c_receipt)

    def receipt_stats(self) -> dict:
        """The receipt counters of the C client (since connect(), or since
        the outbox was opened before it): as a receiver sent, acked,
        ranges, messages, failed, pending, rereceipted (copies refused as
        replays receipted again); as a sender awaiting (rows
        waiting for receipts now), receipted, resent, missed (given up),
        opened and refused (receipts received)."""
        return self._counters(lib.secmq_client_receipt_stats,
                              _lib.ReceiptStats, _lib.RECEIPT_STATS_FIELDS)

    def receipt_row(self, id: int) -> Optional[dict]:
        """Where outbox row id (MQTTMessageInfo.id) stands: {"state":
        "queued", "handed" (no PUBACK yet) or "awaiting" (acknowledged,
        waiting for receipts), "receipts": held for receipts, "got",
        "need": receipters heard from and needed, "resends"}; None when
        the row is not in the outbox (settled, delivered, dropped).
        Raises StateError without an outbox."""
        if isinstance(id, bool) or not isinstance(id, int) or id < 1:
            raise InvalidArgumentError("receipt_row: %r is not a row id"
                                       % (id,))
        if self._outbox_cfg is None:
            raise StateError("receipt_row() needs an outbox")
        st = _lib.ReceiptRow()
        with self._outbox_use() as h:
            rc = lib.secmq_client_receipt_row(h, id, ctypes.byref(st),
                                              ctypes.sizeof(st))
        if rc == E_INVAL:
            return None
        if rc != 0:
            raise from_code(rc)
        return {"state": ROW_STATES.get(st.state, st.state),
                "receipts": bool(st.receipts), "got": st.got,
                "need": st.need, "resends": st.resends}
