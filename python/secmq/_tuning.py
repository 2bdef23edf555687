"""_tuning.py -- how a secmq.Client spends its CPU: verify threads, how
often received messages' replay records are synced, and the log level
handed to Python.

A mixin of Client, like _receipts.py: the settings are kept until the C
client is made and handed over there (secmq_client_set_open_threads,
secmq_client_set_sync_interval, secmq_client_set_log_level). Nothing
here changes what is checked.
"""

import logging

from . import _lib
from ._trampolines import _c_log
from .errors import InvalidArgumentError, StateError, from_code

lib = _lib.lib
# secmq_log_level (secmq.h)
_C_ERROR, _C_WARNING, _C_INFO, _C_DEBUG = 0, 1, 2, 3


def _c_level(py_level):
    """The most detailed secmq_log_level a Python logger at py_level
    shows."""
    if py_level <= logging.DEBUG:
        return _C_DEBUG
    if py_level <= logging.INFO:
        return _C_INFO
    if py_level <= logging.WARNING:
        return _C_WARNING
    return _C_ERROR


class _Tuning:
    """Methods of Client (uses its _h, _staged, on_log and _logger). The
    settings live in class defaults until set."""

    _open_threads = None
    _sync_interval = None

    def set_open_threads(self, n: int) -> None:
        """With a keyring: how many threads verify received signed
        messages (Ed25519), several at once, while on_message still gets
        them one at a time in arrival order. 0 (the default): one per
        online core, at most 8 (none on one core); 1: none, the network
        thread verifies each itself; up to 64. Before connect()
        (StateError after)."""
        if self._h is not None and not self._staged:
            raise StateError("set_open_threads() must come before connect()")
        if isinstance(n, bool) or not isinstance(n, int) or \
                not 0 <= n <= 64:
            raise InvalidArgumentError("set_open_threads: n must be a whole "
                                       "number within 0..64, not %r" % (n,))
        self._open_threads = n

    def set_sync_interval(self, usec: int) -> None:
        """With a keyring: how often, at most, the replay records of
        received messages are made durable while messages keep arriving,
        in microseconds (0..1,000,000; default 1000). Each commit is one
        fdatasync shared by every message ready by then; under load a
        message may reach on_message up to usec later; one after a quiet
        spell is committed at once; 0 commits as soon as the previous
        commit ended. Nothing is delivered before its record is durable.
        Before connect() (StateError after)."""
        if self._h is not None and not self._staged:
            raise StateError("set_sync_interval() must come before "
                             "connect()")
        if isinstance(usec, bool) or not isinstance(usec, int) or \
                not 0 <= usec <= 1000000:
            raise InvalidArgumentError("set_sync_interval: usec must be a "
                                       "whole number within 0..1000000, "
                                       "not %r" % (usec,))
        self._sync_interval = usec

    def _log_level(self):
        """What the C client formats and hands over: everything for
        on_log (paho's contract: every level), else what the logger of
        enable_logger() shows at connect() (libmosquitto's line per packet
        is DEBUG: not made at all for a logger at INFO or above)."""
        if self.on_log is not None:
            return _C_DEBUG
        return _c_level(self._logger.getEffectiveLevel())

    def _tuning_attach(self, h):
        """Log callback and level, sync interval, verify threads, on a
        new C client (Client._setup), before it connects."""
        if self.on_log is not None or self._logger is not None:
            lib.secmq_client_on_log(h, _c_log)
            rc = lib.secmq_client_set_log_level(h, self._log_level())
            if rc != 0:
                raise from_code(rc, "log level: %s" % _lib.strerror(rc))
        if self._sync_interval is not None:
            rc = lib.secmq_client_set_sync_interval(h, self._sync_interval)
            if rc != 0:
                raise from_code(rc, "set_sync_interval: %s"
                                % _lib.strerror(rc))
        if self._open_threads is not None:
            rc = lib.secmq_client_set_open_threads(h, self._open_threads)
            if rc != 0:
                raise from_code(rc, "set_open_threads: %s"
                                % _lib.strerror(rc))
