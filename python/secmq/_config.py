"""_config.py -- a Client's settings as the struct secmq_client_new()
copies (secmq_config), built at connect(). keep receives the buffers the
struct points into, which must live until secmq_client_new() returns.
Not for anything else.
"""

import ctypes

from . import _lib

lib = _lib.lib


def build_config(self, host, port, keepalive, keep):
    """secmq_config for Client self connecting to host:port."""
    cfg = _lib.Config()
    lib.secmq_config_init(ctypes.byref(cfg))

    def s(value, what):
        b = _lib.enc(value, what)
        keep.append(b)
        return b
    cfg.host = s(host, "host")
    cfg.port = int(port)
    cfg.keepalive = int(keepalive)
    cfg.clean_session = int(self._clean_session)
    cfg.protocol = self._protocol
    t = self._tls
    cfg.tls.cafile = s(t["cafile"], "ca_certs")
    cfg.tls.capath = s(t["capath"], "ca_path")
    cfg.tls.certfile = s(t["certfile"], "certfile")
    cfg.tls.keyfile = s(t["keyfile"], "keyfile")
    cfg.tls.ciphers = s(t["ciphers"], "ciphers")
    cfg.tls.server_name = s(t["server_name"], "server_name")
    cfg.tls.min_version = t["min_version"]
    cfg.tls.insecure = int(t["insecure"])
    if t["pin"] is not None:
        cfg.tls.has_pin = 1
        ctypes.memmove(cfg.tls.pin_sha256, t["pin"], _lib.PIN_BYTES)
    cfg.username = s(self._username, "username")
    cfg.password = s(self._password, "password")
    cfg.client_id = s(self._client_id or None, "client_id")
    if self._will is not None:
        topic, payload, qos, retain = self._will
        buf = ctypes.create_string_buffer(payload, len(payload) or 1)
        keep.append(buf)
        cfg.will.topic = s(topic, "will topic")
        cfg.will.payload = ctypes.addressof(buf)
        cfg.will.payloadlen = len(payload)
        cfg.will.qos = qos
        cfg.will.retain = int(retain)
    cfg.reconnect_min_s, cfg.reconnect_max_s = self._reconnect
    cfg.connect_timeout_ms = int(self._connect_timeout * 1000)
    return cfg
