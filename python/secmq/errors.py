"""errors.py -- the exceptions of the secmq package.

Every failure of a library call becomes one of these, chosen by the
library's return code (SECMQ_E_* in secmq.h) and carrying the library's
own detail message, e.g. ``TLSCAError: TLS: the broker's certificate is not
signed by a trusted CA``. Not for anything but mapping codes to classes.
"""

import builtins

from . import _lib


class Error(Exception):
    """Base class of every secmq error. ``rc`` is the library's return
    code (negative), ``message`` its detail sentence."""

    rc = None

    def __init__(self, message: str, rc: int = None):
        super().__init__(message)
        self.message = message
        if rc is not None:
            self.rc = rc


class InvalidArgumentError(Error, ValueError):
    """An argument or option is invalid (SECMQ_E_INVAL)."""
    rc = -1


class NoMemoryError(Error, MemoryError):
    """Out of memory (SECMQ_E_NOMEM)."""
    rc = -2


class StateError(Error):
    """The call is not valid in the client's state (SECMQ_E_STATE)."""
    rc = -3


class LocalIOError(Error, OSError):
    """An operating-system I/O error, e.g. a file that cannot be read
    (SECMQ_E_IO)."""
    rc = -4


class TimeoutError(Error, builtins.TimeoutError):
    """The operation did not finish in time (SECMQ_E_TIMEOUT)."""
    rc = -5


class NetworkError(Error):
    """Base of the errors about reaching the broker."""


class NotConnectedError(NetworkError):
    """Not connected to the broker (SECMQ_E_NO_CONN)."""
    rc = -6


class ConnectRefusedError(NetworkError):
    """TCP connection refused or unreachable (SECMQ_E_CONN_REFUSED)."""
    rc = -7


class ConnectionLostError(NetworkError):
    """The connection to the broker was lost (SECMQ_E_CONN_LOST)."""
    rc = -8


class DNSError(NetworkError):
    """The broker's host name did not resolve (SECMQ_E_DNS)."""
    rc = -9


class TLSError(Error):
    """The TLS handshake or a record failed (SECMQ_E_TLS); the subclasses
    name the certificate checks."""
    rc = -10


class TLSCAError(TLSError):
    """The broker's certificate is not from a trusted CA
    (SECMQ_E_TLS_CA)."""
    rc = -11


class TLSHostnameError(TLSError):
    """The broker's certificate is for another host
    (SECMQ_E_TLS_HOSTNAME)."""
    rc = -12


class TLSExpiredError(TLSError):
    """A certificate is expired or not yet valid (SECMQ_E_TLS_EXPIRED)."""
    rc = -13


class TLSPinError(TLSError):
    """The broker's public key does not match the pin (SECMQ_E_TLS_PIN)."""
    rc = -14


class RefusedError(Error):
    """The broker refused the connection (SECMQ_E_REFUSED); base of the
    login refusals."""
    rc = -17


class AuthError(RefusedError):
    """The broker refused the login: bad username or password
    (SECMQ_E_AUTH)."""
    rc = -15


class NotAuthorizedError(RefusedError):
    """The broker said: not authorised (SECMQ_E_NOT_AUTHORIZED)."""
    rc = -16


class ProtocolError(Error):
    """An MQTT protocol violation (SECMQ_E_PROTOCOL)."""
    rc = -18


class OversizeError(Error):
    """The payload or packet is too large (SECMQ_E_OVERSIZE)."""
    rc = -19


class ConfigError(Error):
    """A configuration file error (SECMQ_E_CONFIG)."""
    rc = -20


class OpenError(Error):
    """An envelope did not open (SECMQ_E_OPEN)."""
    rc = -21


class KeyringError(Error):
    """A keyring, identity or grant file error (SECMQ_E_KEYRING)."""
    rc = -22


class NoKeyError(Error):
    """No channel key covers this topic for this use, e.g. this identity
    may not publish there (SECMQ_E_NO_KEY)."""
    rc = -23


class PlaintextError(Error):
    """A plaintext publish to a topic that has a channel was refused
    (SECMQ_E_PLAINTEXT)."""
    rc = -24


class OutboxFullError(Error):
    """The outbox is at its bound (SECMQ_E_FULL)."""
    rc = -25


class DatabaseError(Error):
    """A database file is foreign, corrupt or of another version
    (SECMQ_E_DB)."""
    rc = -26


class BusyError(Error):
    """A file is in use by another process (SECMQ_E_BUSY)."""
    rc = -27


class QoSUnsupportedError(ProtocolError):
    """The broker does not support QoS 2: it answered a QoS 2 PUBLISH with
    PUBACK, as RabbitMQ does (SECMQ_E_QOS_UNSUPPORTED). The client stops;
    publish at QoS 1 with a new client."""
    rc = -28


class NoReceiptError(Error):
    """A message of a channel with receipts was given up: the receipters
    it needs did not receipt it in time (SECMQ_E_NO_RECEIPT; the rc of
    on_receipt and on_delivered)."""
    rc = -29


_BY_CODE = {cls.rc: cls for cls in (
    InvalidArgumentError, NoMemoryError, StateError, LocalIOError,
    TimeoutError, NotConnectedError, ConnectRefusedError,
    ConnectionLostError, DNSError, TLSError, TLSCAError, TLSHostnameError,
    TLSExpiredError, TLSPinError, AuthError, NotAuthorizedError,
    RefusedError, ProtocolError, OversizeError, ConfigError, OpenError,
    KeyringError, NoKeyError, PlaintextError, OutboxFullError,
    DatabaseError, BusyError, QoSUnsupportedError, NoReceiptError)}


# Shown as secmq.AuthError (not secmq.errors.AuthError) in tracebacks.
for _cls in list(_BY_CODE.values()) + [Error, NetworkError]:
    _cls.__module__ = "secmq"


def error_string(rc: int) -> str:
    """The library's sentence for a return code (as passed to
    on_disconnect), like paho's ``error_string``."""
    return _lib.strerror(rc)


def from_code(rc: int, detail: str = None) -> Error:
    """The exception for return code rc, with detail (the library's
    detail message) or, without one, the library's sentence for rc."""
    cls = _BY_CODE.get(rc, Error)
    return cls(detail or _lib.strerror(rc), rc)
