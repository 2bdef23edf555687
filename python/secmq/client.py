"""client.py -- secmq.Client, a paho-mqtt shaped client over libsecmq.

The methods and callbacks have the names, arguments and meaning of
paho-mqtt 1.6's Client, so a paho script moves over by changing its import
and a few arguments. Everything on the wire (TLS, MQTT, sealing and opening
envelopes) is done by libsecmq through ctypes; this file translates calls,
callbacks and errors, and keeps the threads safe. Settings are collected
until connect(), which creates the C client (secmq_client_new copies them);
an outbox is opened earlier, when it is set (_outbox.py).
"""

import atexit
import ctypes
import logging
import ssl
import threading
import traceback
from typing import Any, List, Optional, Tuple, Union

from . import _lib
from .errors import (InvalidArgumentError, NotConnectedError, StateError,
                     from_code)
from ._acks import _Acks, _Group
from ._config import build_config
from ._outbox import _Outbox
from ._receipts import _Receipts
from ._tuning import _Tuning
from .keyring import Keyring
from ._trampolines import (_c_connect, _c_delivered, _c_disconnect,
                           _c_message, _c_open_failure, _c_publish,
                           _c_subscribe,
                           _c_unsubscribe, _clients, _links_closing,
                           _links_created, _register, _registry_lock,
                           _running, _tls)
from .message import (MQTT_ERR_SUCCESS, MQTT_LOG_DEBUG, MQTT_LOG_ERR,
                      MQTT_LOG_INFO, MQTT_LOG_WARNING, MQTTv31, MQTTv311,
                      MQTTv5, MQTTMessageInfo)

lib = _lib.lib
E_NO_CONN = -6
E_NO_KEY = -23
TLS_1_2 = 12
TLS_1_3 = 13
_PYLEVEL = {MQTT_LOG_ERR: logging.ERROR, MQTT_LOG_WARNING: logging.WARNING,
            MQTT_LOG_INFO: logging.INFO, MQTT_LOG_DEBUG: logging.DEBUG}
_log = logging.getLogger("secmq")


def _payload(payload) -> bytes:
    """paho's payload rules: str as UTF-8, bytes as is, numbers as text,
    None as empty."""
    if payload is None:
        return b""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (int, float)):
        return str(payload).encode("ascii")
    raise TypeError("payload must be a string, bytearray, int, float or "
                    "None")


def _check_qos(qos) -> int:
    if qos not in (0, 1, 2):
        raise InvalidArgumentError("QoS must be 0, 1 or 2, not %r" % (qos,))
    return int(qos)


class Client(_Acks, _Outbox, _Receipts, _Tuning):
    """An MQTT client whose link is TLS and whose payloads can be sealed
    end to end, shaped like paho.mqtt.client.Client (1.6).

    client_id: the client id; "" lets the library choose one
    ("secmq-" + random hex). clean_session: False asks the broker to keep
    the session (needs a client_id). userdata: passed to every callback.
    protocol: MQTTv311 (default) or MQTTv5. transport: "tcp" only (always
    TLS). keyring: a Keyring, or the path of a keyring directory (made by
    secmq-keys), to seal what is published on covered topics and open what
    arrives; max_age applies to a keyring opened from a path (see
    Keyring). outbox: the path of a durable outbox file (sqlite,
    secmq/outbox.h), as outbox_set(outbox) with the library's defaults:
    QoS 1/2 publish() returns once the message is committed there (also
    before the first connect() and while the broker is away), and it is
    sent, after outages and restarts, until the broker acknowledged it
    (on_delivered(client, userdata, id, rc) instead of on_publish;
    outbox_wait(), outbox_stats()).

    Callbacks (attributes, set before connect()), same signatures as paho:
      on_connect(client, userdata, flags, rc)     rc: the CONNACK code
      on_disconnect(client, userdata, rc)         0 after disconnect(),
                                                  else a negative library
                                                  code (error_string(rc))
      on_message(client, userdata, msg)           an MQTTMessage
      on_publish(client, userdata, mid)
      on_subscribe(client, userdata, mid, granted_qos)
      on_unsubscribe(client, userdata, mid)
      on_log(client, userdata, level, buf)        MQTT_LOG_* levels
      on_receipt(client, userdata, id, rc, got, need)  secmq only: an
                  outbox row settled by receipts (rc 0) or NoReceiptError.rc
      on_open_failure(client, userdata, topic, reason)   secmq only: a
                  message refused by the keyring (reason "bad_tag", ...)
    Callbacks run on the library's network thread (with a keyring,
    on_message and on_open_failure on its delivery thread). An exception
    in a callback is logged (on_log and the "secmq" logger), never raised
    into the library.

    Differences from paho: connect() waits for the broker's answer and
    raises (AuthError, TLSCAError, ...) instead of reporting a refusal
    only to on_connect; failures raise secmq.Error subclasses instead of
    returning codes; the network thread stops only after a disconnect, so
    loop_stop() disconnects first when disconnect() was not called.
    """

    def __init__(self, client_id: str = "", clean_session: bool = True,
                 userdata: Any = None, protocol: int = MQTTv311,
                 transport: str = "tcp", *,
                 keyring: Union[None, str, Keyring] = None,
                 max_age: Optional[float] = None,
                 outbox: Optional[str] = None):
        self._h = None
        self._owned_keyring = None
        if protocol == MQTTv31:
            raise InvalidArgumentError("MQTT 3.1 is not supported: use "
                                       "MQTTv311 or MQTTv5")
        if protocol not in (MQTTv311, MQTTv5):
            raise InvalidArgumentError("unknown protocol %r" % (protocol,))
        if transport != "tcp":
            raise InvalidArgumentError("transport %r is not supported (only "
                                       "\"tcp\", always with TLS)"
                                       % (transport,))
        if not clean_session and not client_id:
            raise InvalidArgumentError("a client id must be given when "
                                       "clean_session is False")
        self._client_id = client_id or ""
        self._clean_session = bool(clean_session)
        self._userdata = userdata
        self._protocol = protocol
        if isinstance(keyring, Keyring):
            if max_age is not None:
                raise InvalidArgumentError("max_age is a setting of the "
                                           "Keyring given")
            self._keyring = keyring
        elif keyring is not None:
            self._keyring = Keyring(keyring) if max_age is None else \
                Keyring(keyring, max_age=max_age)
            self._owned_keyring = self._keyring
        else:
            self._keyring = None
        self._outbox_cfg = None
        self._tls = {"cafile": None, "capath": None, "certfile": None,
                     "keyfile": None, "ciphers": None, "server_name": None,
                     "min_version": TLS_1_2, "insecure": False, "pin": None}
        self._username = None
        self._password = None
        self._will = None
        self._reconnect = (1, 30)
        self._connect_timeout = 10.0
        self._plain = []
        self._logger = None
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._inflight = 0
        self._closing = False
        self._attached = False
        self._staged = False    # _h only holds the outbox (_outbox.py)
        self._closed = False
        self._swap_lock = threading.RLock()
        self._threaded = False
        self._loop_wanted = False
        self._connected = False
        self._stop = threading.Event()
        self._pub_cond = threading.Condition()
        self._pending = {}      # (kind, mid) -> MQTTMessageInfo or _Group
        self._early = {}        # (kind, mid) -> result, acked before known
        # (kind, mid) of closed file transfers' publishes whose acks have
        # not come yet: theirs, not the application's (files.py).
        self._orphans = set()
        # (side, topic) of closed file transfers: what still arrives on
        # their topics is dropped, not handed to on_message (_trampolines).
        self._closed_transfers = set()
        self._id = _register(self)
        self.on_connect = None
        self.on_disconnect = None
        self.on_message = None
        self.on_publish = None
        self.on_subscribe = None
        self.on_unsubscribe = None
        self.on_log = None
        self.on_open_failure = None
        self.on_delivered = None
        if outbox is not None:
            self.outbox_set(outbox)

    # -- settings (before connect) -----------------------------------------

    def tls_set(self, ca_certs: Optional[str] = None,
                certfile: Optional[str] = None,
                keyfile: Optional[str] = None, cert_reqs=None,
                tls_version=None, ciphers: Optional[str] = None,
                keyfile_password=None, *, ca_path: Optional[str] = None,
                server_name: Optional[str] = None) -> None:
        """TLS settings, as paho's tls_set. ca_certs: PEM file of the CAs
        trusted to sign the broker's certificate (default: the system's,
        /etc/ssl/certs); ca_path: a directory of them instead. certfile and
        keyfile: a client certificate for mutual TLS. tls_version: None,
        ssl.PROTOCOL_TLS_CLIENT or TLS_1_2 (TLS 1.2 or newer), TLS_1_3
        (TLS 1.3 only). ciphers: a wolfSSL cipher list. server_name: the
        name to check the certificate against (default: the host).
        The broker's certificate is always checked: cert_reqs other than
        ssl.CERT_REQUIRED is refused, as is keyfile_password."""
        if cert_reqs is not None and cert_reqs != ssl.CERT_REQUIRED:
            raise InvalidArgumentError("secmq always checks the broker's "
                                       "certificate; cert_reqs=%r refused"
                                       % (cert_reqs,))
        if keyfile_password is not None:
            raise InvalidArgumentError("encrypted key files are not "
                                       "supported: keyfile_password refused")
        if tls_version in (None, ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS,
                           TLS_1_2, ssl.TLSVersion.TLSv1_2):
            version = TLS_1_2
        elif tls_version in (TLS_1_3, ssl.TLSVersion.TLSv1_3):
            version = TLS_1_3
        else:
            raise InvalidArgumentError("tls_version %r is not supported "
                                       "(TLS 1.2 or newer, or TLS_1_3)"
                                       % (tls_version,))
        if (certfile is None) != (keyfile is None):
            raise InvalidArgumentError("a client certificate needs both "
                                       "certfile and keyfile")
        self._tls.update(cafile=ca_certs, capath=ca_path, certfile=certfile,
                         keyfile=keyfile, ciphers=ciphers,
                         server_name=server_name, min_version=version)

    def tls_insecure_set(self, value: bool) -> None:
        """As paho: True does not check that the broker's certificate names
        the host (the CA is still checked); the library logs it loudly at
        every connect. Use server_name in tls_set() instead when you can."""
        self._tls["insecure"] = bool(value)

    def tls_pin(self, pin: Optional[str]) -> None:
        """Pin the broker's public key: pin is "sha256:<base64>" of its
        certificate's SubjectPublicKeyInfo (``secmq-certs pin broker.crt``
        prints it); a broker with another key is refused (TLSPinError).
        None removes the pin. The CA and host name are still checked."""
        if pin is None:
            self._tls["pin"] = None
            return
        out = (ctypes.c_ubyte * _lib.PIN_BYTES)()
        if lib.secmq_pin_parse(_lib.enc(pin, "pin"), out) != 0:
            raise InvalidArgumentError("%r is not a pin (sha256:<base64 of "
                                       "32 bytes>)" % (pin,))
        self._tls["pin"] = bytes(out)

    def username_pw_set(self, username: Optional[str],
                        password: Optional[str] = None) -> None:
        """Username and password sent in CONNECT, as paho."""
        if password is not None and username is None:
            raise InvalidArgumentError("a password needs a username")
        self._username = username
        self._password = password

    def will_set(self, topic: str, payload=None, qos: int = 0,
                 retain: bool = False, properties=None) -> None:
        """The message the broker publishes if this client goes away without
        disconnect(), as paho. It is sent as given: it is not sealed."""
        if properties is not None:
            raise InvalidArgumentError("MQTT 5 properties are not supported")
        if not topic or "+" in topic or "#" in topic:
            raise InvalidArgumentError("invalid will topic %r" % (topic,))
        self._will = (topic, _payload(payload), _check_qos(qos), bool(retain))

    def will_clear(self) -> None:
        """Remove the will set by will_set()."""
        self._will = None

    def reconnect_delay_set(self, min_delay: int = 1,
                            max_delay: int = 30) -> None:
        """Wait min_delay seconds before reconnecting after a lost link,
        doubling up to max_delay, as paho."""
        if not 1 <= min_delay <= max_delay:
            raise InvalidArgumentError("reconnect delays must satisfy 1 <= "
                                       "min_delay <= max_delay")
        self._reconnect = (int(min_delay), int(max_delay))

    def connect_timeout_set(self, seconds: float) -> None:
        """Limit for the TCP connect, the TLS handshake and the broker's
        CONNACK in connect() (default 10 s)."""
        if seconds < 0.1:
            raise InvalidArgumentError("connect timeout must be >= 0.1 s")
        self._connect_timeout = float(seconds)

    def allow_plain(self, topic_filter: str) -> None:
        """With a keyring: deliver messages on topics matching topic_filter
        that no channel covers as they are (msg.sealed False) instead of
        refusing them. Call before connect()."""
        if self._keyring is None:
            raise StateError("allow_plain() needs a keyring: without one "
                             "every message is delivered as it is")
        self._plain.append(_lib.enc(topic_filter, "topic filter"))

    def user_data_set(self, userdata: Any) -> None:
        """Set the userdata passed to callbacks."""
        self._userdata = userdata

    def enable_logger(self, logger: Optional[logging.Logger] = None) -> None:
        """Send the library's log lines (libsecmq, libmosquitto) to a
        Python logger (default: "secmq"), as paho. Call before connect().
        Lines below the logger's level at connect() are not made at all
        (without on_log): a logger at INFO or above costs nothing per
        packet."""
        self._logger = logger or _log

    def disable_logger(self) -> None:
        self._logger = None

    # -- connecting ---------------------------------------------------------

    def connect(self, host: str, port: int = 8883, keepalive: int = 60,
                bind_address: str = "", bind_port: int = 0,
                clean_start=None, properties=None) -> int:
        """Connect to the broker at host:port over TLS and wait for its
        answer (at most the connect timeout, 10 s by default).

        Returns MQTT_ERR_SUCCESS once the broker accepted; on_connect has
        run by then (on this thread unless loop_start() was called first).
        Raises DNSError, ConnectRefusedError, TimeoutError, TLSError and
        its subclasses (TLSCAError, TLSHostnameError, TLSExpiredError,
        TLSPinError), LocalIOError (a CA, certificate or key file that
        cannot be read), AuthError (wrong username or password),
        NotAuthorizedError or RefusedError, each with the library's detail
        message. Once connected, a lost link is re-established by the
        network loop (loop_start/loop_forever)."""
        if bind_address or bind_port:
            raise InvalidArgumentError("bind_address/bind_port are not "
                                       "supported")
        if properties is not None or clean_start is not None:
            raise InvalidArgumentError("MQTT 5 clean_start/properties are "
                                       "not supported")
        self._not_in_callback("connect")
        if self._h is not None:
            if self._connected:
                raise StateError("already connected")
            self._destroy(keep_rows=True)
        keep = []
        cfg = build_config(self, host, port, keepalive, keep)
        with self._swap_lock:
            if self._h is not None:
                # An outbox opened (staged) meanwhile: its rows are in the
                # file, which the new client opens again and sends first.
                self._destroy(keep_rows=True)
            h = ctypes.c_void_p()
            rc = lib.secmq_client_new(ctypes.byref(h), ctypes.byref(cfg),
                                      ctypes.c_void_p(self._id))
            if rc != 0:
                raise from_code(rc, self._errmsg(None))
            h = h.value
            self._setup(h)
            self._stop.clear()
            with self._lock:
                self._h, self._closing, self._staged = h, False, False
                self._closed = False
        try:
            _links_created(self, h)     # file transfers made before
            rc = lib.secmq_client_connect(h)
            if rc != 0:
                raise from_code(rc, self._errmsg(h))
            if self._loop_wanted:
                self._start_loop(h)
            rc = lib.secmq_client_wait_connected(
                h, int(self._connect_timeout * 1000))
            if rc != 0:
                raise from_code(rc, self._errmsg(h))
        except BaseException:
            self._destroy(keep_rows=True)
            raise
        return MQTT_ERR_SUCCESS

    def _setup(self, h):
        """Callbacks, keyring and plain filters on a new C client."""
        for setter, fn in (("on_connect", _c_connect),
                           ("on_disconnect", _c_disconnect),
                           ("on_message", _c_message),
                           ("on_publish", _c_publish),
                           ("on_subscribe", _c_subscribe),
                           ("on_unsubscribe", _c_unsubscribe),
                           ("on_open_failure", _c_open_failure)):
            getattr(lib, "secmq_client_" + setter)(h, fn)
        try:
            self._tuning_attach(h)
            if self._keyring is not None:
                rc = lib.secmq_client_set_keyring(h, self._keyring._attach())
                self._attached = True
                if rc != 0:
                    raise from_code(rc, self._errmsg(h))
                for f in self._plain:
                    rc = lib.secmq_client_allow_plain(h, f)
                    if rc != 0:
                        raise from_code(rc, "invalid topic filter %r"
                                        % f.decode("utf-8", "replace"))
            if self._outbox_cfg is not None:
                self._outbox_attach(h)
                lib.secmq_client_on_delivered(h, _c_delivered)
            self._receipts_attach(h)
        except BaseException:
            lib.secmq_client_free(h)
            self._detach_keyring()
            raise

    def _detach_keyring(self):
        if self._attached:
            self._attached = False
            self._keyring._detach()

    def _errmsg(self, h) -> Optional[str]:
        buf = ctypes.create_string_buffer(_lib.ERRMSG_BYTES * 2)
        n = lib.secmq_client_errmsg(h, buf, len(buf))
        return _lib.text(buf.value) if n else None

    def _fail(self, rc, context):
        """The exception for a failed publish/subscribe: the keyring's
        reason for a refused seal, else what was refused and why (the
        client's detail message belongs to connections, and may be older
        than this call)."""
        if rc == E_NO_KEY and self._keyring is not None:
            buf = ctypes.create_string_buffer(_lib.ERRMSG_BYTES * 2)
            if lib.secmq_keyring_errmsg(self._keyring._h, buf, len(buf)):
                return from_code(rc, _lib.text(buf.value))
        return from_code(rc, "%s: %s" % (context, _lib.strerror(rc)))

    def _use(self) -> "_Use":
        """The C client for a call, counted so close() waits for it."""
        return _Use(self)

    def is_connected(self) -> bool:
        """True while the broker has accepted the connection."""
        return self._connected

    def tls_info(self) -> dict:
        """The current TLS session: {"version", "cipher", "resumed",
        "handshakes"}."""
        info = _lib.TlsInfo()
        with self._use() as h:
            rc = lib.secmq_client_tls_info(h, ctypes.byref(info))
            if rc != 0:
                raise from_code(rc)
        return {"version": _lib.text(info.version),
                "cipher": _lib.text(info.cipher),
                "resumed": bool(info.resumed),
                "handshakes": info.handshakes}

    @property
    def client_id(self) -> str:
        """The client id in use (the library's choice when none was
        given), or the one given before connect()."""
        if self._h is not None and not self._staged:
            return _lib.text(lib.secmq_client_id(self._h))
        return self._client_id

    def open_counts(self) -> dict:
        """With a keyring: {"ok": n, "bad_tag": n, ...}, how many messages
        opened and how many were refused, per reason."""
        counts = (ctypes.c_uint64 * _lib.OPEN_REASON_COUNT)()
        with self._use() as h:
            n = lib.secmq_client_open_counts_v2(h, counts, len(counts))
        if n < 0:
            raise from_code(n)
        return {_lib.text(lib.secmq_open_reason_name(i)): counts[i]
                for i in range(n)}

    def disconnect(self, reasoncode=None, properties=None) -> int:
        """Send DISCONNECT (the broker does not publish the will) and stop
        reconnecting; on_disconnect gets rc 0. May be called from a
        callback. Does nothing on a client that is not connected."""
        self._stop.set()
        try:
            with self._use() as h:
                rc = lib.secmq_client_disconnect(h)
        except NotConnectedError:
            return MQTT_ERR_SUCCESS
        self._connected = False
        if rc not in (0, E_NO_CONN):
            raise from_code(rc)
        return MQTT_ERR_SUCCESS

    # -- publish and subscribe ----------------------------------------------

    def publish(self, topic: str, payload=None, qos: int = 0,
                retain: bool = False, properties=None) -> MQTTMessageInfo:
        """Publish payload (str as UTF-8, bytes, int/float as text, None
        as empty) on topic, as paho. With a keyring, a topic a channel
        covers is sealed first. Returns an MQTTMessageInfo (mid,
        wait_for_publish(), is_published()); on_publish follows.
        QoS 1/2 messages published while the link is down are sent after
        the reconnect. With an outbox, QoS 1/2 messages (and QoS 0 ones
        with outbox_set(qos0=True)) are committed to it before this
        returns, also before the first connect(), and sent once
        connected. Raises InvalidArgumentError (topic, QoS),
        NotConnectedError (QoS 0 while the link is down, or before
        connect() without an outbox), OversizeError, NoKeyError (this
        identity may not publish on a covered topic), OutboxFullError
        (the outbox is at a bound and its policy is "refuse")."""
        if properties is not None:
            raise InvalidArgumentError("MQTT 5 properties are not supported")
        t = _lib.enc(topic, "topic")
        p = _payload(payload)
        mid = ctypes.c_int(0)
        qos = _check_qos(qos)
        row = ctypes.c_uint64(0)
        what = "publish to %r at QoS %d" % (topic, qos)
        if self._outbox_cfg is None:
            with self._use() as h:
                rc = lib.secmq_client_publish(h, ctypes.byref(mid), t, p,
                                              len(p), qos, int(bool(retain)))
        else:
            with self._outbox_use() as h:
                rc = lib.secmq_client_publish_v2(
                    h, ctypes.byref(row), ctypes.byref(mid), t, p, len(p),
                    qos, int(bool(retain)), 0)
                e = self._outbox_error(h, rc, what) if rc else None
            if e is not None:
                raise e
        if rc != 0:
            raise self._fail(rc, what)
        info = MQTTMessageInfo(mid.value, self._pub_cond)
        info.id = row.value
        kind, key = ("row", row.value) if row.value else ("pub", mid.value)
        if self._register(kind, [key], info):
            info._set_published()
        return info

    def subscribe(self, topic, qos: int = 0, options=None,
                  properties=None) -> Tuple[int, int]:
        """Subscribe, as paho: subscribe("a/b", 1), subscribe(("a/b", 1))
        or subscribe([("a/b", 1), ("c/#", 0)]). Returns (MQTT_ERR_SUCCESS,
        mid); on_subscribe(client, userdata, mid, granted_qos) follows once
        for the call, with a granted QoS per filter (128: refused)."""
        if options is not None or properties is not None:
            raise InvalidArgumentError("MQTT 5 options/properties are not "
                                       "supported")
        if isinstance(topic, tuple):
            pairs = [topic]
        elif isinstance(topic, list):
            pairs = list(topic)
        else:
            pairs = [(topic, qos)]
        if not pairs:
            raise InvalidArgumentError("no topic to subscribe to")
        items = [(_lib.enc(t, "topic filter"), _check_qos(q))
                 for t, q in pairs]
        mids = []
        for (t, _), (f, q) in zip(pairs, items):
            mids.append(self._call_mid("subscribe to %r" % (t,),
                                       lib.secmq_client_subscribe, f, q))
        group = _Group("sub", mids)
        done = self._register("sub", mids, group)
        if done:
            self._fire(group)
        return MQTT_ERR_SUCCESS, mids[0]

    def unsubscribe(self, topic: Union[str, List[str]],
                    properties=None) -> Tuple[int, int]:
        """Unsubscribe from a filter (or a list of them), as paho. Returns
        (MQTT_ERR_SUCCESS, mid); on_unsubscribe follows once."""
        topics = topic if isinstance(topic, list) else [topic]
        if not topics:
            raise InvalidArgumentError("no topic to unsubscribe from")
        mids = [self._call_mid("unsubscribe from %r" % (t,),
                               lib.secmq_client_unsubscribe,
                               _lib.enc(t, "topic filter")) for t in topics]
        group = _Group("unsub", mids)
        if self._register("unsub", mids, group):
            self._fire(group)
        return MQTT_ERR_SUCCESS, mids[0]

    def _call_mid(self, what, fn, *args) -> int:
        mid = ctypes.c_int(0)
        with self._use() as h:
            rc = fn(h, ctypes.byref(mid), *args)
        if rc != 0:
            raise self._fail(rc, what)
        return mid.value

    # -- loops --------------------------------------------------------------

    def _start_loop(self, h):
        rc = lib.secmq_client_loop_start(h)
        if rc != 0:
            raise from_code(rc, self._errmsg(h))
        self._threaded = True
        with _registry_lock:
            _running.add(self)

    def loop_start(self) -> int:
        """Run the network on a thread of the library, as paho: callbacks
        run there; a lost link is re-established with backoff. May be
        called before connect() (the thread then starts in connect())."""
        if self._threaded:
            raise StateError("the network loop already runs")
        if self._h is None or self._staged:
            self._loop_wanted = True
            return MQTT_ERR_SUCCESS
        with self._use() as h:
            self._start_loop(h)
        self._loop_wanted = True
        return MQTT_ERR_SUCCESS

    def loop_stop(self, force: bool = False) -> int:
        """Stop the network thread and wait for it, as paho. The library's
        thread ends only after a disconnect: if disconnect() was not called,
        loop_stop() disconnects first. Not from a callback."""
        self._not_in_callback("loop_stop")
        self._loop_wanted = False
        if not self._threaded:
            return MQTT_ERR_SUCCESS
        h = self._h
        if not self._stop.is_set():
            self.disconnect()
        # Without any lock held: the thread may be in a callback that
        # takes the client's lock or calls disconnect().
        lib.secmq_client_loop_stop(h, 0)
        self._threaded = False
        with _registry_lock:
            _running.discard(self)
        return MQTT_ERR_SUCCESS

    def loop_forever(self, timeout: float = 1.0, max_packets: int = 1,
                     retry_first_connection: bool = False) -> int:
        """Run the network until disconnect() is called (from a callback
        or another thread) or Ctrl-C, then stop it and return
        MQTT_ERR_SUCCESS; a lost link is re-established meanwhile. Ctrl-C
        (KeyboardInterrupt) disconnects cleanly and returns. Call after
        connect(). The library runs the network on its own thread while
        this one waits, so signals are handled at once."""
        self._not_in_callback("loop_forever")
        if self._h is None or self._staged:
            raise StateError("loop_forever() needs connect() first")
        if not self._threaded:
            self.loop_start()
        try:
            while not self._stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            self._emit(MQTT_LOG_INFO, "interrupted: disconnecting")
        finally:
            self.disconnect()
            self.loop_stop()
        return MQTT_ERR_SUCCESS

    # -- closing ------------------------------------------------------------

    def _destroy(self, keep_rows=False):
        """Stop the loop, free the C client, release the keyring. With
        keep_rows, publish() tickets of outbox rows stay registered: the
        rows are in the file, and the next C client on it sends them."""
        if self._threaded:
            self.loop_stop()
        with self._cond:
            h, self._closing = self._h, True
            while self._inflight > 0:
                self._cond.wait()
        if h is not None:
            _links_closing(self)        # file transfers borrow h
            lib.secmq_client_free(h)
        with self._lock:
            self._h, self._staged = None, False
            rows = {k: v for k, v in self._pending.items()
                    if keep_rows and k[0] == "row"}
            self._pending.clear()
            self._pending.update(rows)
            self._early.clear()
            # Packet ids end with the C client; outbox rows stay in the
            # file and are delivered by the next one.
            self._orphans = {k for k in self._orphans
                             if keep_rows and k[0] == "row"}
        self._connected = False
        self._detach_keyring()

    def close(self) -> None:
        """Disconnect if connected, stop the network thread and release the
        library's client (and a keyring opened from a path). Safe to call
        twice; used by ``with`` and at interpreter exit. Not from a
        callback."""
        self._not_in_callback("close")
        self._closed = True
        if self._h is not None:
            if self._connected:
                self.disconnect()
            self._destroy()
        _links_closing(self)            # transfers that never got an h
        kr, self._owned_keyring = self._owned_keyring, None
        if kr is not None:
            kr.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        h = getattr(self, "_h", None)
        if h is None:
            return
        if isinstance(threading.current_thread(), threading._DummyThread):
            # Collected on a library thread (after a callback): freeing
            # here could join that very thread. Free on a thread of ours.
            threading.Thread(target=_free_later, daemon=True,
                             args=(h, self._keyring if self._attached
                                   else None, self._owned_keyring)).start()
            return
        try:
            self.close()
        except Exception:
            pass

    # -- callbacks and logging ------------------------------------------------

    def _not_in_callback(self, what):
        if self._id in getattr(_tls, "active", ()):
            raise StateError("%s() cannot be called from a callback (use "
                             "disconnect() there)" % what)

    def _invoke(self, name, *args):
        fn = getattr(self, name, None)
        if fn is None:
            return
        active = getattr(_tls, "active", None)
        if active is None:
            active = _tls.active = []
        active.append(self._id)
        try:
            fn(self, self._userdata, *args)
        except Exception:
            self._callback_failed(name)
        finally:
            active.pop()

    def _callback_failed(self, name):
        text = "exception in %s callback:\n%s" % (
            name, traceback.format_exc().rstrip())
        _log.error("%s", text)
        if name != "on_log" and self.on_log is not None:
            self._invoke("on_log", MQTT_LOG_ERR, text)

    def _emit(self, level, text):
        """A line of this package: on_log when set, else the logger."""
        if self.on_log is not None:
            self._invoke("on_log", level, text)
        else:
            (self._logger or _log).log(_PYLEVEL[level], "%s", text)

    def _library_log(self, level, text):
        if self.on_log is not None:
            self._invoke("on_log", level, text)
        if self._logger is not None:
            self._logger.log(_PYLEVEL[level], "%s", text)


class _Use:
    """with client._use() as h: the C client, counted while in use."""

    __slots__ = ("c",)

    def __init__(self, client):
        self.c = client

    def __enter__(self):
        c = self.c
        with c._lock:
            if c._h is None or c._closing:
                raise NotConnectedError("not connected: call connect() "
                                        "first")
            c._inflight += 1
            return c._h

    def __exit__(self, *exc):
        c = self.c
        with c._lock:
            c._inflight -= 1
            if c._closing:
                c._cond.notify_all()


def _free_later(h, keyring, owned):
    lib.secmq_client_free(h)
    if keyring is not None:
        keyring._detach()
    if owned is not None:
        owned.close()


@atexit.register
def _close_all():
    """At exit, before the interpreter goes: stop every network thread
    (callbacks need the interpreter) and free every client."""
    for ref in list(_clients.values()):
        client = ref()
        if client is not None:
            try:
                client.close()
            except Exception:
                pass
