"""keyring.py -- keyring directories: open one for a Client, or manage it.

A Keyring loads an identity, its peers and channel grants once; a Client
given one seals what it publishes on covered topics and opens what it
receives. The static methods do what ``secmq-keys`` does (init, export,
import, channel create / rotate / revoke, identity rotate) through
libsecmq's management API. This file only translates; the keys and files
are libsecmq's.
"""

import ctypes
import os
import threading
from typing import Iterable, List, Optional, Union

from . import _lib
from .errors import StateError, from_code

# What secmq-sub uses (docs/SECURITY.md, Freshness): sealed messages more
# than an hour from the local clock are refused as too_old.
DEFAULT_MAX_AGE_S = 3600.0
# secmq-keys channel rotate's default grace (SECMQ_GRACE_DEFAULT_MS).
DEFAULT_GRACE_S = 3600.0
# secmq-keys channel create --epoch's default grace, at most (ms;
# SECMQ_EPOCH_GRACE_DEFAULT_MS).
DEFAULT_EPOCH_GRACE_MS = 600000
PathType = Union[str, os.PathLike]


def _manage(fn, *args) -> List[str]:
    """Call a management function fn(*args, note, user, err, errlen);
    its news lines, or the exception with its one-line reason."""
    notes = []
    note = _lib.NOTE_CB(lambda user, line: notes.append(_lib.text(line)))
    err = ctypes.create_string_buffer(_lib.ERRMSG_BYTES * 2)
    rc = fn(*args, note, None, err, len(err))
    if rc != 0:
        raise from_code(rc, _lib.text(err.value) or None)
    return notes


def _ms(seconds: float, what: str) -> int:
    ms = int(round(seconds * 1000))
    if not 0 <= ms <= 0xFFFFFFFF:
        raise ValueError("%s: %r seconds is out of range" % (what, seconds))
    return ms


def _spec(topic, publishers, subscribers):
    """A ChannelSpec for topic and the member files, and what keeps its
    arrays alive."""
    pubs, subs = list(publishers), list(subscribers)
    spec = _lib.ChannelSpec()
    spec.filter = _lib.enc(topic, "topic")
    keep = (_paths(pubs, "publisher file"), _paths(subs, "subscriber file"))
    spec.publishers, spec.n_publishers = keep[0], len(pubs)
    spec.subscribers, spec.n_subscribers = keep[1], len(subs)
    return spec, keep


def _paths(files, what) -> "ctypes.Array":
    items = [_lib.enc(f, what) for f in files]
    return (ctypes.c_char_p * max(len(items), 1))(*items)


class Keyring:
    """An open keyring directory.

    ``Keyring(path, max_age=3600.0)`` loads the keyring at path (made by
    ``secmq-keys init`` and filled with ``secmq-keys import``). max_age
    (seconds, 0 = off) refuses sealed messages whose time is further than
    that from the local clock, which is what still refuses replays of old
    messages when the replay state was lost; an hour by default, as
    secmq-sub. Raises KeyringError naming the file that is missing,
    malformed, tampered with or readable by others.

    Pass it to ``Client(keyring=...)`` (or pass the path there and the
    client opens its own). It must stay open while a client uses it.
    """

    def __init__(self, path: Union[str, os.PathLike],
                 max_age: float = DEFAULT_MAX_AGE_S):
        self._h = None
        self._lock = threading.Lock()
        self._users = 0
        self.path = os.fspath(path)
        if max_age is None or max_age < 0:
            raise ValueError("max_age must be a number of seconds >= 0")
        h = ctypes.c_void_p()
        err = ctypes.create_string_buffer(_lib.ERRMSG_BYTES * 2)
        rc = _lib.lib.secmq_keyring_open(ctypes.byref(h),
                                         _lib.enc(self.path, "path"), err,
                                         len(err))
        if rc != 0:
            raise from_code(rc, _lib.text(err.value) or None)
        self._h = h.value
        rc = _lib.lib.secmq_keyring_set_max_age(self._h,
                                                int(max_age * 1000.0))
        if rc != 0:
            self.close()
            raise from_code(rc)

    @property
    def name(self) -> str:
        """This identity's name."""
        return _lib.text(_lib.lib.secmq_keyring_name(self._handle()))

    def _handle(self):
        if self._h is None:
            raise StateError("the keyring is closed")
        return self._h

    def _attach(self):
        with self._lock:
            h = self._handle()
            self._users += 1
            return h

    def _detach(self):
        with self._lock:
            self._users -= 1

    def close(self) -> None:
        """Persist the replay state, wipe the keys and free. Refused
        (StateError) while a client still uses the keyring; a second call
        does nothing."""
        with self._lock:
            if self._users > 0:
                raise StateError("the keyring is still used by a client: "
                                 "close the client first")
            h, self._h = self._h, None
        if h is not None:
            _lib.lib.secmq_keyring_free(h)

    # -- management (what secmq-keys does) --------------------------------

    @staticmethod
    def init(path: PathType, name: str) -> None:
        """Make a new identity called name (1..64 of [A-Za-z0-9._@-]) in
        the keyring directory path (created 0700), as ``secmq-keys init``.
        An existing identity is never overwritten (KeyringError)."""
        err = ctypes.create_string_buffer(_lib.ERRMSG_BYTES * 2)
        rc = _lib.lib.secmq_identity_create(_lib.enc(path, "path"),
                                            _lib.enc(name, "name"), err,
                                            len(err))
        if rc != 0:
            raise from_code(rc, _lib.text(err.value) or None)

    @staticmethod
    def export(path: PathType) -> str:
        """The public identity file of path's identity (what others
        import), as ``secmq-keys export``."""
        buf = ctypes.create_string_buffer(1024)
        n = ctypes.c_size_t(0)
        err = ctypes.create_string_buffer(_lib.ERRMSG_BYTES * 2)
        rc = _lib.lib.secmq_identity_export(_lib.enc(path, "path"), buf,
                                            len(buf), ctypes.byref(n), err,
                                            len(err))
        if rc != 0:
            raise from_code(rc, _lib.text(err.value) or None)
        return buf.raw[:n.value].decode("utf-8")

    @staticmethod
    def import_files(path: PathType, files: Iterable[PathType]) -> List[str]:
        """Import public identity files (trusted peers), successor
        statements (<name>.successor, a peer's new key) and grant files
        into path, all or nothing, as ``secmq-keys import``. Returns the
        library's news lines."""
        files = list(files)
        return _manage(_lib.lib.secmq_keyring_import, _lib.enc(path, "path"),
                       _paths(files, "file"), len(files))

    @staticmethod
    def channel_create(path: PathType, topic: str,
                       publishers: Iterable[PathType],
                       subscribers: Iterable[PathType] = (),
                       out_dir: PathType = "grants",
                       allow_mac: bool = False,
                       epoch: Optional[float] = None,
                       epoch_grace: Optional[float] = None) -> List[str]:
        """Create a channel on topic (a filter) owned by path's identity,
        with the identities in the public files publishers and
        subscribers as members; a grant per member is written to
        out_dir/<name>.grant. As ``secmq-keys channel create``. With
        epoch (seconds, at least 1) the key moves one way every epoch and
        members erase each epoch's key epoch_grace seconds after it ended
        (default: the epoch, at most 600), as ``--epoch`` /
        ``--epoch-grace`` (docs/SECURITY.md, "Forward secrecy")."""
        spec, keep = _spec(topic, publishers, subscribers)
        spec.allow_mac = int(bool(allow_mac))
        ratchet = _lib.ChannelRatchet()
        if epoch is not None:
            ratchet.period_ms = _ms(epoch, "epoch")
            ratchet.grace_ms = (min(ratchet.period_ms, DEFAULT_EPOCH_GRACE_MS)
                                if epoch_grace is None
                                else _ms(epoch_grace, "epoch_grace"))
        elif epoch_grace is not None:
            raise ValueError("epoch_grace needs epoch")
        return _manage(_lib.lib.secmq_channel_create_v3,
                       _lib.enc(path, "path"), ctypes.byref(spec), None,
                       ctypes.byref(ratchet), _lib.enc(out_dir, "out_dir"))

    @staticmethod
    def channel_add(path: PathType, topic: str,
                    publishers: Iterable[PathType] = (),
                    subscribers: Iterable[PathType] = (),
                    out_dir: PathType = "grants",
                    grace: float = DEFAULT_GRACE_S) -> List[str]:
        """Add the identities in the public files to the owned channel on
        topic and rotate: grants for every member, old and new, to
        out_dir; the new members open nothing sent before. As
        ``secmq-keys channel add``."""
        spec, keep = _spec(topic, publishers, subscribers)
        return _manage(_lib.lib.secmq_channel_add, _lib.enc(path, "path"),
                       ctypes.byref(spec), int(grace * 1000),
                       _lib.enc(out_dir, "out_dir"))

    @staticmethod
    def channel_rotate(path: PathType, topic: str, out_dir: PathType,
                       grace: float = DEFAULT_GRACE_S) -> List[str]:
        """Give the owned channel on topic a new key; grants for every
        member go to out_dir; the old key stays valid for grace seconds.
        As ``secmq-keys channel rotate``."""
        return _manage(_lib.lib.secmq_channel_rotate, _lib.enc(path, "path"),
                       _lib.enc(topic, "topic"), int(grace * 1000),
                       _lib.enc(out_dir, "out_dir"))

    @staticmethod
    def channel_revoke(path: PathType, topic: str, name: str,
                       out_dir: PathType, grace: float = 0.0) -> List[str]:
        """Remove member name from the owned channel on topic and rotate
        without it (grants for the others to out_dir). As ``secmq-keys
        channel revoke``."""
        return _manage(_lib.lib.secmq_channel_revoke, _lib.enc(path, "path"),
                       _lib.enc(topic, "topic"), _lib.enc(name, "name"),
                       int(grace * 1000), _lib.enc(out_dir, "out_dir"))

    @staticmethod
    def identity_rotate(path: PathType, out_dir: PathType,
                        grace: float = DEFAULT_GRACE_S) -> List[str]:
        """Replace path's identity by a new key pair of the same name and
        erase the old one, as ``secmq-keys identity rotate``: out_dir gets
        <name>.successor (the statement signed by the old and the new key,
        for every peer and channel owner to import) and <name>.pub (the
        new public file); every owned channel is issued again from the new
        key, its grants in out_dir/<new channel id>/, its old key valid
        grace seconds more. Refused (KeyringError) while any process has
        the keyring open (a Client of this one included). Returns the
        library's news lines."""
        if grace is None or not grace >= 0:
            raise ValueError("grace must be a number of seconds >= 0")
        return _manage(_lib.lib.secmq_identity_rotate, _lib.enc(path, "path"),
                       _lib.enc(out_dir, "out_dir"), int(grace * 1000))

    def __enter__(self) -> "Keyring":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            if self._h is not None and self._users == 0:
                self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._h is None else self.name
        return "<secmq.Keyring %s (%s)>" % (self.path, state)


def keyring_arg(value) -> Optional[Keyring]:
    """Client(keyring=...): a Keyring as it is, a path opened."""
    if value is None or isinstance(value, Keyring):
        return value
    return Keyring(value)
