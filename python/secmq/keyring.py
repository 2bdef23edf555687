"""keyring.py -- an open keyring directory (secmq_keyring), for a Client.

A Keyring loads an identity, its peers and channel grants once (made by
``secmq-keys``); a Client given one seals what it publishes on covered
topics and opens what it receives. This file only opens and frees; the
sealing and opening happen in libsecmq.
"""

import ctypes
import os
import threading
from typing import Optional, Union

from . import _lib
from .errors import StateError, from_code

# What secmq-sub uses (docs/SECURITY.md, Freshness): sealed messages more
# than an hour from the local clock are refused as too_old.
DEFAULT_MAX_AGE_S = 3600.0


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
