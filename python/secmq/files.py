"""files.py -- secmq.FileSender, secmq.FileReceiver and secmq.send_file:
encrypted, resumable file transfer over a secmq.Client.

The transfer is libsecmq's (secmq/file.h, docs/PROTOCOL.md section 8):
manifests, chunks, requests, the state files and every check are done in
C. This file holds the C objects, hands them the client's C callbacks
(through _trampolines, on the network thread, as secmq-file does), ticks
them from one thread per object, and turns their events into FileEvent
objects for Python callbacks, which run on that thread. Not for anything
of the protocol.
"""

import collections
import ctypes
import logging
import os
import threading
import time
from typing import Callable, List, Optional, Union

from . import _lib, _trampolines
from .errors import (Error, InvalidArgumentError, NotConnectedError,
                     StateError, TimeoutError, from_code)
from .keyring import Keyring

lib = _lib.lib
_log = logging.getLogger("secmq")
TICK_S = 0.1        # secmq/file.h: tick every 50..500 ms
FLUSH_S = 5.0       # longest wait for a receiver's last answers in close()
# Most publishes awaiting an ack (secmq/file.h): twice a sender's window
# (at most 1024) plus 16 manifests; a receiver's 256 requests.
SENDER_AWAITING_MAX = 2 * 1024 + 16
RECEIVER_AWAITING_MAX = 256
REASON_BUSY = 6     # SECMQ_FILE_R_BUSY: not final, the file comes again
KINDS = {1: "start", 2: "progress", 3: "done", 4: "refused", 5: "failed",
         6: "rejected", 7: "request", 8: "expired"}
PathType = Union[str, bytes, os.PathLike]


class FileEvent:
    """One event of a transfer (secmq_file_event), copied for Python.

    kind: "start", "progress", "done", "refused", "failed", "rejected",
    "request" or "expired" (secmq/file.h says what each means on either
    side). file_id: the file's id (hex). name: the announced name (None
    for some rejected messages). path: sender, the local file; receiver,
    the final path ("done" only). peer: the receiver's identity
    (sender's "done", "refused", "request") or the sender's (receiver).
    size: the file size; bytes: bytes acknowledged by the broker (sender)
    or held (receiver); chunks: chunks done (for "request": chunks asked
    for); chunk_count. hash: 32 bytes, "done" only, else None: the
    file's BLAKE2b-256 (protocol 1) or the root of its chunk tree keyed
    with the file's key (protocol 2, the default). reason: "refused"
    and "failed": "too_large", "no_space", "bad_name", "io", "hash" or
    "busy"; "rejected": why the message did not open ("bad_tag",
    "bad_proof", ...); else None. rc: "failed":
    the library's code (negative). detail: one sentence for people.
    """

    __slots__ = ("kind", "file_id", "name", "path", "peer", "size",
                 "bytes", "chunks", "chunk_count", "hash", "reason", "rc",
                 "detail")

    def __init__(self, ev):
        self.kind = KINDS.get(ev.kind, str(ev.kind))
        self.file_id = bytes(ev.file_id).hex()
        self.name = _lib.text(ev.name)
        self.path = _lib.text(ev.path)
        self.peer = _lib.text(ev.peer)
        self.size = ev.size
        self.bytes = ev.bytes
        self.chunks = ev.chunks
        self.chunk_count = ev.chunk_count
        self.hash = ctypes.string_at(ev.hash, _lib.FILE_HASH_BYTES) \
            if ev.hash else None
        if self.kind in ("refused", "failed"):
            self.reason = _lib.text(lib.secmq_file_reason_name(ev.reason))
        elif self.kind == "rejected":
            self.reason = _lib.text(lib.secmq_open_reason_name(ev.reason))
        else:
            self.reason = None
        self.rc = ev.rc
        self.detail = _lib.text(ev.detail)

    def __repr__(self) -> str:
        return "<FileEvent %s %r %d/%d bytes%s>" % (
            self.kind, self.name, self.bytes, self.size,
            " peer=%s" % self.peer if self.peer else "")


Callback = Optional[Callable[[FileEvent], None]]


class FileRefusedError(Error):
    """A receiver refused the file (too large, no space, a name it cannot
    use, ...). ``event`` is the "refused" FileEvent, ``reason`` its
    reason."""

    def __init__(self, event: FileEvent):
        super().__init__("%s refused %s: %s" % (event.peer or "a receiver",
                                                 event.name, event.detail))
        self.event = event
        self.reason = event.reason


FileRefusedError.__module__ = "secmq"

# user pointer of each C object -> the Python object, from creation to
# close() (which the client's close() does at the latest).
_objects = {}
_objects_lock = threading.Lock()
_next = [0]


@_lib.FILE_EVENT_CB
def _c_event(user, ev):
    """Runs inside the C object's calls (its mutex held, any thread):
    only copy the event and wake the tick thread, which runs callbacks."""
    _trampolines._pin()
    obj = _objects.get(user or 0)
    if obj is not None:
        obj._events.append(FileEvent(ev.contents))
        obj._wake.set()


def _keyring_of(keyring) -> "tuple":
    """(Keyring, owned): a Keyring as it is, a path opened here."""
    if isinstance(keyring, Keyring):
        return keyring, False
    if keyring is None:
        raise StateError("a file transfer needs keyring= (a Keyring or the "
                         "path of a keyring directory): it seals and opens "
                         "its manifests and requests itself")
    return Keyring(keyring), True


class _Transfer:
    """What FileSender and FileReceiver share: the C object's life, the
    forwarding of the client's callbacks, the tick thread, the events."""

    _side = ""          # "sender" or "receiver": secmq_file_<side>_*
    _gen = 0

    def __init__(self, client, keyring, progress: Callback):
        if getattr(client, "_keyring", None) is not None:
            raise StateError("the client has a keyring, which would open "
                             "the transfer's messages before it does: use "
                             "a Client without keyring= for file transfer "
                             "and give the keyring here")
        self._client = client
        self._h = None
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._busy = 0              # forwarded calls inside the C object
        self._closed = False
        # close(): acks are still forwarded after _closed, until _freeing;
        # then the publishes still awaiting theirs go to the client's
        # orphans (_orphaned), which claims their acks from then on.
        self._freeing = False
        self._orphaned = False
        self._error = None          # the exception that ended it
        self._events = collections.deque()
        self._wake = threading.Event()
        self._stop = False
        self._thread = None
        self._progress = progress
        self._keyring, owned = _keyring_of(keyring)
        self._owned = self._keyring if owned else None
        self._hkr = None
        with _objects_lock:
            _next[0] += 1
            self._uid = _next[0]
            _objects[self._uid] = self

    def _fn(self, op):
        return getattr(lib, "secmq_file_%s_%s" % (self._side, op))

    def _attach(self):
        """Link to the client; make the C object now if the client has
        its C client, else in its connect()."""
        try:
            self._hkr = self._keyring._attach()
            _trampolines._link(self._client, self)
            if getattr(self._client, "_staged", False):
                return      # a C client holding only the outbox: connect()
                # makes the one to use (and calls _created)
            use = self._client._use()
            try:
                h = use.__enter__()
            except NotConnectedError:
                return                  # made by connect()
            try:
                self._created(h)
            finally:
                use.__exit__(None, None, None)
        except BaseException:
            self.close()
            raise

    def _make(self, h):
        """The C object on the C client h (raises its error)."""
        raise NotImplementedError

    def _new(self, h, *args):
        """secmq_file_<side>_new(&out, h, keyring, *args, opts, ...)."""
        out = ctypes.c_void_p()
        err = ctypes.create_string_buffer(600)
        rc = self._fn("new")(ctypes.byref(out), h, self._hkr, *args,
                             ctypes.byref(self._opts), _c_event,
                             ctypes.c_void_p(self._uid), err, len(err))
        if rc != 0:
            raise from_code(rc, _lib.text(err.value) or None)
        return out.value

    def _created(self, h):
        """A C client h exists (at creation or in Client.connect()): make
        the C object, start ticking, subscribe if already connected."""
        if self._h is not None or self._closed:
            return
        try:
            obj = self._make(h)
        except Error as e:
            self._fail(e)           # wait() raises it too
            raise
        with self._lock:
            self._h = obj
        self._thread = threading.Thread(
            target=self._run, daemon=True,
            name="secmq-file-%s-%d" % (self._side, self._uid))
        self._thread.start()
        if self._client.is_connected():
            self._on_connect(0)

    def _errmsg(self, h) -> str:
        buf = ctypes.create_string_buffer(_lib.ERRMSG_BYTES * 2)
        self._fn("errmsg")(h, buf, len(buf))
        return _lib.text(buf.value)

    # -- the client's callbacks (network thread), through _trampolines --

    def _enter(self):
        with self._lock:
            if self._h is None or self._closed:
                return None
            self._busy += 1
            return self._h

    def _leave(self):
        with self._lock:
            self._busy -= 1
            if self._busy == 0:
                self._cond.notify_all()

    def _call(self, op, *args):
        h = self._enter()
        if h is None:
            return None
        try:
            return self._fn(op)(h, *args)
        finally:
            self._leave()

    def _on_connect(self, session_present):
        rc = self._call("handle_connect", int(bool(session_present)))
        if rc:
            self._fail(from_code(rc, "cannot subscribe to the transfer's "
                                     "topics: " + _lib.strerror(rc)))

    def _on_message(self, m) -> bool:
        return self._call("handle_message", m) == 1

    def _on_subscribe(self, mid, count, granted):
        self._call("handle_subscribe", mid, count, granted)
        self._wake.set()     # a refusal ends the transfer at the next tick

    def _ack(self, op, ident, rc) -> bool:
        """An ack for the C object, also while close() runs and until it
        frees the object; after that the client's orphans (registered by
        close() first) claim the transfer's."""
        with self._lock:
            if self._h is None or self._freeing:
                while self._freeing and not self._orphaned:
                    self._cond.wait()
                return False        # the trampoline asks the orphans
            self._busy += 1
            h = self._h
        try:
            return self._fn(op)(h, ident, rc) == 1
        finally:
            self._leave()

    def _on_publish(self, mid, rc) -> bool:
        """True when mid was the transfer's own publish (its ack then
        goes no further: not to on_publish, not to the ack table)."""
        return self._ack("handle_publish_v2", mid, rc)

    def _on_durable(self, row, rc):
        pass

    def _on_delivered(self, row, rc) -> bool:
        return False

    def _awaiting(self, h):
        """[(kind, id)] of the C object's publishes awaiting an ack."""
        return []

    # -- the tick thread ---------------------------------------------------

    def _run(self):
        h = self._h
        while not self._stop:
            if self._error is None:
                gen = self._gen     # add() calls finished before the tick
                left = self._fn("tick")(h)
                if left < 0:
                    self._fail(from_code(left, self._errmsg(h)))
                self._deliver()
                self._ticked(gen, left)
            else:
                self._deliver()
            self._wake.wait(TICK_S)
            self._wake.clear()
        self._deliver()

    def _ticked(self, gen, left):
        with self._cond:
            self._cond.notify_all()

    def _fail(self, exc):
        with self._cond:
            if self._error is None:
                self._error = exc
            self._cond.notify_all()
        self._wake.set()

    def _deliver(self):
        """Hand the queued events to the callbacks (tick thread, or
        close()); an exception there is logged, never raised."""
        while True:
            try:
                ev = self._events.popleft()
            except IndexError:
                return
            self._event(ev)

    def _event(self, ev):
        self._callback("progress", self._progress, ev)

    def _callback(self, what, fn, ev):
        if fn is None:
            return
        try:
            fn(ev)
        except Exception:
            self._client._callback_failed("file transfer %s" % what)

    # -- closing -------------------------------------------------------------

    def _client_gone(self):
        if self._h is None and getattr(self._client, "_staged", False):
            return      # the outbox-only C client of an unconnected Client
        if not self._closed:
            self._fail(StateError("the client was closed"))
        self.close()

    def _closable(self):
        if self._thread is threading.current_thread():
            raise StateError("close() cannot be called from a file "
                             "transfer's callback")
        # Not from the client's callbacks either: the tick thread joined
        # in close() may wait for the network thread inside a publish.
        self._client._not_in_callback("close")

    def close(self) -> None:
        """Stop the transfer and free the library's object (progress on
        disk stays for the next run with the same state). Safe to call
        twice; used by ``with``. Not from a callback (the transfer's or
        the client's: StateError)."""
        self._closable()
        with self._cond:
            if self._closed:
                return
            self._closed = True     # no more forwarded calls start
            while self._busy > 0:
                self._cond.wait()
            self._cond.notify_all()
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        with self._cond:
            # The acks of what the transfer published and the broker has
            # not answered yet stay the transfer's: the client drops them.
            self._freeing = True
            while self._busy > 0:
                self._cond.wait()
            if self._h is not None:
                self._client._orphan_add(self._awaiting(self._h))
            self._orphaned = True
            self._cond.notify_all()
        # The client stays subscribed (a persistent session keeps
        # collecting for the next transfer); what arrives there meanwhile
        # is dropped rather than handed to on_message.
        with self._client._lock:
            self._client._closed_transfers.add((self._side, self._topic))
        _trampolines._unlink(self._client, self)
        h, self._h = self._h, None
        if h is not None:
            self._fn("free")(h)
        self._deliver()
        with _objects_lock:
            _objects.pop(self._uid, None)
        if self._hkr is not None:
            self._hkr = None
            self._keyring._detach()
        owned, self._owned = self._owned, None
        if owned is not None:
            owned.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _opt(value, what, lo, hi=None):
    """value if lo <= value (<= hi), else InvalidArgumentError."""
    if value < lo or (hi is not None and value > hi):
        raise InvalidArgumentError("%s must be %s, not %r" % (
            what, ">= %s" % lo if hi is None else "%s..%s" % (lo, hi),
            value))
    return value


class FileSender(_Transfer):
    """Sends files to the receivers of topic: each file is announced with
    a sealed, signed manifest on TOPIC/m and sent in encrypted chunks on
    TOPIC/c/<id>, each proved against the manifest; receivers ask on TOPIC/r/<id> for what is missing.

    client: a secmq.Client WITHOUT a keyring of its own (the transfer
    seals and opens with keyring=), whose network loop runs
    (loop_start() or loop_forever()); it may be connected already or
    later. keyring: a Keyring or the path of a keyring directory that
    makes this identity a publisher of a channel covering TOPIC/m and a
    member of one covering TOPIC/r/+. state: an sqlite file of the
    progress, so a sender started again with it resumes an unfinished
    file (None: memory only). receivers: how many receivers must confirm
    each file (default 1). chunk_size: bytes per chunk (1024..16 MiB,
    default 64 KiB; keep it below the broker's packet limit). window:
    chunks in flight (1..1024, default 16). retry: seconds before the
    manifest is repeated to silent receivers (default 5). max_rate:
    chunk bytes per second at most (default: no limit). protocol: 2 (the
    default: chunks proved against the signed manifest's chunk tree) or
    1, for receivers older than protocol 2 (signed chunks, PROTOCOL.md
    §8.3). progress: called with a FileEvent for every event, on the
    sender's thread.

    With an outbox on the client (Client(outbox=...)), manifests and
    chunks go through it (secmq/file.h). Raises NoKeyError (the keyring
    lacks a channel; the library's message names it), LocalIOError (the
    state file), InvalidArgumentError.
    """

    _side = "sender"

    def __init__(self, client, topic: str, *,
                 keyring: Union[str, os.PathLike, Keyring],
                 state: Optional[PathType] = None, receivers: int = 1,
                 chunk_size: Optional[int] = None,
                 window: Optional[int] = None,
                 retry: Optional[float] = None,
                 max_rate: Optional[int] = None,
                 protocol: Optional[int] = None,
                 progress: Callback = None):
        o = _lib.FileSendOpts()
        lib.secmq_file_send_opts_init(ctypes.byref(o))
        self._topic = _lib.enc(topic, "topic")
        self._state = _lib.enc(state, "state")
        o.receivers = _opt(receivers, "receivers", 1, 1024)
        if chunk_size is not None:
            o.chunk_size = _opt(chunk_size, "chunk_size", 1024, 1 << 24)
        if window is not None:
            o.window = _opt(window, "window", 1, 1024)
        if retry is not None:
            o.retry_ms = int(_opt(retry, "retry", 0.1) * 1000)
        if max_rate is not None:
            o.max_rate = _opt(int(max_rate), "max_rate", 1)
        if protocol is not None:
            if protocol not in (1, 2) or isinstance(protocol, bool):
                raise InvalidArgumentError("protocol must be 1 or 2, not %r"
                                           % (protocol,))
            o.protocol = protocol
        o.state = self._state
        self._opts = o
        self._pending = []          # add() before the C object exists
        self._gen = 0               # add() calls so far
        self._left = (0, 0)         # (gen, files not finished) at a tick
        self._done = []
        self._ended = []            # final "refused"/"failed" events
        super().__init__(client, keyring, progress)
        self._attach()

    def _make(self, h):
        obj = self._new(h, self._topic)
        if getattr(self._client, "_outbox_cfg", None) is not None:
            # Rows committed: the sender counts chunks done from here.
            lib.secmq_client_on_durable(h, _trampolines._c_durable)
        for path, name in self._pending:      # add() before connect()
            rc = lib.secmq_file_sender_add(obj, path, name)
            if rc != 0:
                exc = from_code(rc, self._errmsg(obj))
                lib.secmq_file_sender_free(obj)
                raise exc
        self._pending = []
        return obj

    def add(self, path: PathType, name: Optional[str] = None) -> None:
        """Queue the file at path, announced as name (default: its last
        component). It is read once now to hash it; files are sent one
        after the other. A file the state file holds unfinished (same
        path, size and modification time) is resumed. Raises
        InvalidArgumentError (not a regular file, a name receivers would
        refuse), LocalIOError (cannot read it), StateError (closed)."""
        p = _lib.enc(path, "path")
        n = _lib.enc(name, "name")
        with self._cond:
            if self._closed:
                raise StateError("the sender is closed")
            if self._h is None:
                if not os.path.isfile(p):
                    raise InvalidArgumentError("%s is not a regular file"
                                               % os.fsdecode(p))
                self._pending.append((p, n))
                self._gen += 1
                return
        h = self._enter()
        if h is None:
            raise StateError("the sender is closed")
        try:
            rc = lib.secmq_file_sender_add(h, p, n)
            if rc != 0:
                raise from_code(rc, self._errmsg(h))
        finally:
            self._leave()
        with self._cond:
            # After the add: a tick that read the older count cannot
            # report this file finished.
            self._gen += 1
        self._wake.set()

    def _ticked(self, gen, left):
        with self._cond:
            self._left = (gen, left)
            self._cond.notify_all()

    def _on_durable(self, row, rc):
        self._call("handle_durable", row, rc)

    def _on_delivered(self, row, rc) -> bool:
        """True when the row was the sender's chunk or manifest."""
        return self._ack("handle_delivered_v2", row, rc)

    def _awaiting(self, h):
        n = SENDER_AWAITING_MAX
        mids = (ctypes.c_int * n)()
        rows = (ctypes.c_uint64 * n)()
        got = min(lib.secmq_file_sender_awaiting(h, mids, rows, n), n)
        return ([("pub", mids[i]) for i in range(got) if mids[i]] +
                [("row", rows[i]) for i in range(got) if rows[i]])

    def _event(self, ev):
        if ev.kind == "done":
            with self._cond:
                self._done.append(ev)
        elif ev.kind == "failed" or (ev.kind == "refused" and
                                     ev.reason != "busy"):
            with self._cond:
                self._ended.append(ev)
        super()._event(ev)

    def wait(self, timeout: Optional[float] = None) -> List[FileEvent]:
        """Block until every file added so far is finished; return the
        "done" events (name, size, hash, peer, path) of the files
        confirmed since the last wait(). Raises FileRefusedError (a
        receiver refused a file), the file's error with the library's
        detail ("failed": e.g. LocalIOError), the sender's own error
        (e.g. AuthError when the broker refused its subscription,
        StateError when closed), or TimeoutError (the state file, if
        any, lets a later run resume)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not (self._left == (self._gen, 0) and self._h is not None):
                if self._ended or self._error is not None:
                    break
                if self._closed:
                    raise StateError("the sender is closed")
                left = None if deadline is None else \
                    deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(
                        "%s: files not confirmed by %d receiver(s) within "
                        "%g s%s" % (os.fsdecode(self._topic),
                                    self._opts.receivers, timeout,
                                    "; the state file lets a later run "
                                    "resume" if self._state else ""))
                self._cond.wait(0.5 if left is None else min(left, 0.5))
            ended, self._ended = self._ended, []
            done, self._done = self._done, []
            if self._error is not None:
                raise self._error
        if ended:
            ev = ended[0]
            if ev.kind == "refused":
                raise FileRefusedError(ev)
            raise from_code(ev.rc, "%s: %s" % (ev.name, ev.detail))
        return done


def send_file(client, path: PathType, topic: str,
              name: Optional[str] = None, *,
              timeout: Optional[float] = None, progress: Callback = None,
              **opts) -> FileEvent:
    """Send one file and wait until a receiver confirmed it (receivers=N:
    N of them): FileSender(client, topic, progress=progress, **opts),
    add(path, name), wait(timeout), close(). Returns the last "done"
    FileEvent: name, size, hash (as the receiver verified it: the root
    of the file's keyed chunk tree in protocol 2, the file's BLAKE2b-256
    in protocol 1), peer (the receiver), path. opts are
    FileSender's (keyring= is needed; state= makes a second call with the
    same file resume). Raises as FileSender and FileSender.wait()."""
    with FileSender(client, topic, progress=progress, **opts) as s:
        s.add(path, name)
        done = s.wait(timeout)
    if not done:
        raise StateError("the file finished without a confirmation")
    return done[-1]


class FileReceiver(_Transfer):
    """Receives the files announced on topic into directory (which must
    exist; everything is created inside it, never outside): chunks are
    written into a hidden partial file, progress kept in the state file,
    the whole file verified and renamed into place. Unfinished files of
    the state file are resumed.

    client: a secmq.Client WITHOUT a keyring of its own whose network
    loop runs; it may be connected already or later (best with
    clean_session=False and a fixed client_id, so chunks sent while it
    is away wait at the broker). keyring: a Keyring or the path of a
    keyring directory holding a channel covering TOPIC/m and making this
    identity a publisher of one covering TOPIC/r/+. state: the state file
    (default DIRECTORY/.secmq-recv.db). max_size: refuse larger files
    (bytes, default 4 GiB). reserve: refuse a file that would leave less
    free space (bytes, default 16 MiB). max_active: transfers at once
    (default 16; more are answered busy and come again). stall: seconds
    without a chunk before a transfer is given up (default 600). retry:
    seconds without a chunk before missing ones are asked for (default
    3, doubling). on_file: called with the "done" FileEvent (event.path
    is the file) of each file that arrived; progress: with every
    FileEvent; both on the receiver's thread.

    Raises NoKeyError (the keyring lacks a channel; the library's message
    names the identity and the channel), LocalIOError (directory or
    state file), InvalidArgumentError.
    """

    _side = "receiver"

    def __init__(self, client, topic: str, directory: PathType, *,
                 keyring: Union[str, os.PathLike, Keyring],
                 state: Optional[PathType] = None,
                 max_size: Optional[int] = None,
                 reserve: Optional[int] = None,
                 max_active: Optional[int] = None,
                 stall: Optional[float] = None,
                 retry: Optional[float] = None,
                 on_file: Callback = None, progress: Callback = None):
        o = _lib.FileRecvOpts()
        lib.secmq_file_recv_opts_init(ctypes.byref(o))
        self._topic = _lib.enc(topic, "topic")
        self._dir = _lib.enc(directory, "directory")
        self._state = _lib.enc(state, "state")
        o.state = self._state
        if max_size is not None:
            o.max_size = _opt(int(max_size), "max_size", 0)
        if reserve is not None:
            o.reserve = _opt(int(reserve), "reserve", 0)
        if max_active is not None:
            o.max_active = _opt(max_active, "max_active", 1)
        if stall is not None:
            o.stall_ms = int(_opt(stall, "stall", 0.1) * 1000)
        if retry is not None:
            o.retry_ms = int(_opt(retry, "retry", 0.1) * 1000)
        self._opts = o
        self._on_file = on_file
        self._files = []            # "done" events
        super().__init__(client, keyring, progress)
        self._attach()

    def _make(self, h):
        return self._new(h, self._topic, self._dir)

    def _awaiting(self, h):
        n = RECEIVER_AWAITING_MAX
        mids = (ctypes.c_int * n)()
        got = min(lib.secmq_file_receiver_awaiting(h, mids, n), n)
        return [("pub", mids[i]) for i in range(got) if mids[i]]

    def _event(self, ev):
        if ev.kind == "done":
            with self._cond:
                self._files.append(ev)
                self._cond.notify_all()
        super()._event(ev)
        if ev.kind == "done":
            self._callback("on_file", self._on_file, ev)

    @property
    def files(self) -> List[FileEvent]:
        """The "done" events of every file received so far."""
        with self._lock:
            return list(self._files)

    def wait(self, count: int = 1,
             timeout: Optional[float] = None) -> List[FileEvent]:
        """Block until count files in all have arrived (verified, in
        place); return their "done" events. Raises the receiver's error
        (e.g. AuthError: the broker refused a subscription; LocalIOError:
        the state file) or TimeoutError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while len(self._files) < count:
                if self._error is not None:
                    raise self._error
                if self._closed:
                    raise StateError("the receiver is closed")
                left = None if deadline is None else \
                    deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError("%d of %d files arrived on %s within "
                                       "%g s" % (len(self._files), count,
                                                 os.fsdecode(self._topic),
                                                 timeout))
                self._cond.wait(0.5 if left is None else min(left, 0.5))
            return list(self._files[:count])

    def close(self) -> None:
        """Wait (at most 5 s, while connected) until the broker has the
        receiver's last answers, so senders hear that their files
        arrived, as secmq-file recv does; then stop and free (progress
        stays in the state file). Not from a callback."""
        self._closable()
        deadline = time.monotonic() + FLUSH_S
        while not self._closed and self._client.is_connected() and \
                time.monotonic() < deadline:
            h = self._enter()
            if h is None:
                break
            try:
                unacked = lib.secmq_file_receiver_unacked(h)
            finally:
                self._leave()
            if unacked == 0:
                break
            time.sleep(0.02)
        super().close()
