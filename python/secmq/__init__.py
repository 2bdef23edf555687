"""secmq -- MQTT over TLS with end-to-end sealed payloads, for Python.

A binding of libsecmq (through ctypes, no compiler needed) shaped like
paho-mqtt 1.6: ``secmq.Client`` has paho's methods and callbacks, so a paho
script moves over by changing its import and a few arguments. The library
does everything on the wire: TLS (wolfSSL), MQTT (libmosquitto), sealing
and opening envelopes with a keyring made by secmq-keys.

    import secmq
    client = secmq.Client(keyring="/home/pi/.secmq/keys")
    client.tls_set(ca_certs="ca.crt")
    client.username_pw_set("sam", password)
    client.connect("broker.local")
    client.publish("status", "door closed", qos=1).wait_for_publish(5)
    client.disconnect()

The library is found as installed (or with SECMQ_LIBRARY=/path/to/
libsecmq.so.0 in a build tree). docs/PYTHON.md describes the API.
"""

from . import _lib
from .client import TLS_1_2, TLS_1_3, Client
from .errors import (AuthError, BusyError, ConfigError, ConnectionLostError,
                     ConnectRefusedError, DatabaseError, DNSError, Error,
                     InvalidArgumentError, KeyringError, LocalIOError,
                     NetworkError, NoKeyError, NoMemoryError, NoReceiptError,
                     NotAuthorizedError, NotConnectedError, OpenError,
                     OutboxFullError, OversizeError, PlaintextError,
                     ProtocolError, QoSUnsupportedError, RefusedError,
                     StateError, TimeoutError,
                     TLSCAError, TLSError, TLSExpiredError, TLSHostnameError,
                     TLSPinError, error_string)
from .files import (FileEvent, FileReceiver, FileRefusedError, FileSender,
                    send_file)
from .keyring import Keyring
from .message import (CONNACK_ACCEPTED, CONNACK_REFUSED_BAD_USERNAME_PASSWORD,
                      CONNACK_REFUSED_IDENTIFIER_REJECTED,
                      CONNACK_REFUSED_NOT_AUTHORIZED,
                      CONNACK_REFUSED_PROTOCOL_VERSION,
                      CONNACK_REFUSED_SERVER_UNAVAILABLE, MQTT_ERR_NO_CONN,
                      MQTT_ERR_SUCCESS, MQTT_LOG_DEBUG, MQTT_LOG_ERR,
                      MQTT_LOG_INFO, MQTT_LOG_NOTICE, MQTT_LOG_WARNING,
                      SEAL_MAC, SEAL_SIGNED, MQTTMessage, MQTTMessageInfo,
                      MQTTv5, MQTTv31, MQTTv311)

__version__ = "0.1.0"
#: The version of the libsecmq that was loaded.
library_version = _lib.VERSION
#: The file libsecmq was loaded from.
library_path = _lib.lib._name

__all__ = [name for name in dir() if not name.startswith("_")]
