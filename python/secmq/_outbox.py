"""_outbox.py -- the durable outbox of a secmq.Client, from Python.

The outbox is libsecmq's (secmq/outbox.h): this mixin of Client takes its
settings (outbox_set), opens it as soon as they are given, so that a bad
value or an unusable file fails at once and publish() can commit before
the first connect(), and waits and counts (outbox_wait, outbox_stats).
Not for sending: rows are sent by the library once connected.

Before the first connect() the broker's address is not known yet, and the
library takes it when its client is created: the outbox then lives in a
client created with default settings ("staged"), which only commits.
connect() frees it (every row it took is committed by then) and opens the
file again in the client that connects, which sends what it finds there
first, oldest first (secmq/outbox.h: "Rows already in the file are sent
first").
"""

import contextlib
import ctypes
import os
from typing import Optional, Union

from . import _lib
from .errors import InvalidArgumentError, StateError, from_code

lib = _lib.lib
E_FULL = -25
E_IO = -4
SYNC_MODES = {"full": 0, "normal": 1}
FULL_POLICIES = {"refuse": 0, "drop-oldest": 1}
_U64_MAX = 2 ** 64 - 1
_INT_MAX = 2 ** 31 - 1
WAIT_EMPTY = 2


def _whole(name, value, top):
    """value as a non-negative int of at most top, or InvalidArgumentError
    (the library says what it accepts within that range)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError("outbox: %s must be a whole number, not "
                                   "%r" % (name, value))
    if value < 0:
        raise InvalidArgumentError("outbox: %s must be at least 1, not %d"
                                   % (name, value))
    if value > top:
        raise InvalidArgumentError("outbox: %s %d is too large (at most %d)"
                                   % (name, value, top))
    return value


def outbox_config(path, sync="full", policy="refuse", max_rows=None,
                  max_bytes=None, qos0=False, max_inflight=None,
                  max_batch=None):
    """A checked settings dict for Client._outbox_cfg (None: the library's
    default). Raises InvalidArgumentError, TypeError/ValueError (path)."""
    if sync not in SYNC_MODES:
        raise InvalidArgumentError("outbox: sync must be 'full' or 'normal', "
                                   "not %r" % (sync,))
    if policy not in FULL_POLICIES:
        raise InvalidArgumentError("outbox: policy must be 'refuse' or "
                                   "'drop-oldest', not %r" % (policy,))
    cfg = {"path": _lib.enc(path, "outbox path"), "sync": SYNC_MODES[sync],
           "policy": FULL_POLICIES[policy], "qos0": int(bool(qos0))}
    for name, value, top in (("max_rows", max_rows, _U64_MAX),
                             ("max_bytes", max_bytes, _U64_MAX),
                             ("max_inflight", max_inflight, _INT_MAX),
                             ("max_batch", max_batch, _INT_MAX)):
        if value is not None:
            cfg[name] = _whole(name, value, top)
    return cfg


class _Outbox:
    """Outbox methods of Client (uses its _h, _staged, _swap_lock, _use,
    _setup, _destroy, _errmsg and _outbox_cfg)."""

    def outbox_set(self, path: Union[str, "os.PathLike[str]"], *,
                   sync: str = "full", policy: str = "refuse",
                   max_rows: Optional[int] = None,
                   max_bytes: Optional[int] = None, qos0: bool = False,
                   max_inflight: Optional[int] = None,
                   max_batch: Optional[int] = None) -> None:
        """Attach a durable outbox (the sqlite file path, created 0600):
        QoS 1/2 publish() returns once the message is committed there, and
        it is sent, after outages and restarts, until the broker
        acknowledged it. sync: "full" (survives a power cut) or "normal"
        (survives a crash of the program). policy, when the outbox holds
        max_rows messages or max_bytes bytes (topic + stored payload):
        "refuse" (publish raises OutboxFullError) or "drop-oldest" (the
        oldest messages not yet handed to the broker are deleted, counted
        in outbox_stats()["dropped_oldest"]). qos0: QoS 0 messages go
        through the outbox too. max_inflight: messages handed to the
        broker at once (1..1000); max_batch: rows per transaction at most.
        None: the library's default (100,000 rows, 64 MiB, 20, 1000).

        Opens the file now: a value the library refuses raises
        InvalidArgumentError with its reason, a file that is no outbox
        DatabaseError, one another process uses BusyError, one that cannot
        be created LocalIOError. Before connect() only (StateError after);
        a second call replaces the settings (rows stay in the file)."""
        cfg = outbox_config(path, sync, policy, max_rows, max_bytes, qos0,
                            max_inflight, max_batch)
        with self._swap_lock:
            if self._h is not None and not self._staged:
                raise StateError("outbox_set() must come before connect()")
            old = self._outbox_cfg
            if self._h is not None:
                self._destroy(keep_rows=True)
            self._outbox_cfg = cfg
            try:
                self._stage()
            except BaseException:
                self._outbox_cfg = old
                raise

    def _outbox_attach(self, h):
        """secmq_client_set_outbox on a new C client, with the settings."""
        ocfg = _lib.OutboxConfig()
        lib.secmq_outbox_config_init(ctypes.byref(ocfg))
        for name, value in self._outbox_cfg.items():
            setattr(ocfg, name, value)
        rc = lib.secmq_client_set_outbox(h, ctypes.byref(ocfg))
        if rc != 0:
            raise from_code(rc, self._errmsg(h))

    def _stage(self):
        """A C client that only holds the outbox until connect() (the
        swap lock held): default settings, the keyring, the callbacks."""
        cfg = _lib.Config()
        lib.secmq_config_init(ctypes.byref(cfg))
        h = ctypes.c_void_p()
        rc = lib.secmq_client_new(ctypes.byref(h), ctypes.byref(cfg),
                                  ctypes.c_void_p(self._id))
        if rc != 0:
            raise from_code(rc, self._errmsg(None))
        self._setup(h.value)
        with self._lock:
            self._h, self._closing, self._staged = h.value, False, True

    @contextlib.contextmanager
    def _outbox_use(self):
        """_use() for publish() and the outbox calls: with an outbox and no C client (before
        the first connect(), or after a failed one), the outbox is opened
        first, so the message is committed now and sent after connect()."""
        with self._swap_lock:
            if self._h is None and self._outbox_cfg is not None and \
                    not self._closed:
                self._stage()
            use = self._use()
            h = use.__enter__()
        try:
            yield h
        finally:
            use.__exit__(None, None, None)

    def _outbox_error(self, h, rc, context):
        """The exception for a publish the outbox refused (full, or its
        commit failed): the library's reason, which names the bounds."""
        if self._outbox_cfg is not None and rc in (E_FULL, E_IO):
            why = self._errmsg(h)
            if why:
                return from_code(rc, "%s: %s" % (context, why))
        return None

    def outbox_wait(self, timeout: Optional[float] = None) -> None:
        """With an outbox: wait until every row was acknowledged by the
        broker and deleted (None: no limit). Raises TimeoutError."""
        ms = -1 if timeout is None else int(timeout * 1000)
        with self._outbox_use() as h:
            rc = lib.secmq_client_outbox_wait(h, WAIT_EMPTY, ms)
        if rc != 0:
            raise from_code(rc, "outbox: " + _lib.strerror(rc))

    def outbox_release_qos2(self, qos: int) -> int:
        """With an outbox, before connect(): put the QoS 2 messages that
        were set aside because a broker does not support QoS 2
        (outbox_stats()["held_qos2"]; secmq/outbox.h) back in the queue,
        sent first: qos=1 rewrites them as QoS 1 messages, qos=2 keeps
        them at QoS 2 (for a broker that does QoS 2). Returns how many
        were released. Raises InvalidArgumentError (qos not 1 or 2),
        StateError (connected), QoSUnsupportedError (qos 2 on a client
        whose broker refused QoS 2), LocalIOError (the file)."""
        if qos not in (1, 2) or isinstance(qos, bool):
            raise InvalidArgumentError("outbox: qos must be 1 or 2, not %r"
                                       % (qos,))
        n = ctypes.c_uint64(0)
        with self._outbox_use() as h:
            rc = lib.secmq_client_outbox_release_qos2(h, qos, ctypes.byref(n))
            why = self._errmsg(h) if rc != 0 else ""
        if rc != 0:
            raise from_code(rc, "outbox: " + (why or _lib.strerror(rc)))
        return n.value

    def outbox_stats(self) -> dict:
        """With an outbox: its depth and counters (rows, inflight, acked,
        recovered, dropped_oldest, refused_full, ...; secmq/outbox.h).
        Counted since the outbox was opened: before the first connect()
        by the staged client, then again by the one that connects (rows
        committed before it count as recovered there)."""
        return self._counters(lib.secmq_client_outbox_stats_v2,
                              _lib.OutboxStats, _lib.OUTBOX_STATS_FIELDS)

    def _counters(self, fn, cls, fields) -> dict:
        """fn(h, &st, sizeof st) of a counters struct cls (the library
        writes as many bytes as given), as a dict of fields."""
        st = cls()
        with self._outbox_use() as h:
            rc = fn(h, ctypes.byref(st), ctypes.sizeof(st))
        if rc != 0:
            raise from_code(rc)
        return {n: getattr(st, n) for n in fields}
