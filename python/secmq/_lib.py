"""_lib.py -- loading libsecmq and declaring its C API for ctypes.

Finds the shared library (SECMQ_LIBRARY, the path recorded at install
time, the loader's cache, the usual library directories), checks that it
is the ABI this package was written for (version, and the size and
defaults of struct secmq_config as the library itself fills them), and
declares argtypes and restype of every function the package calls. It
holds no state beyond the loaded library; the protocol stays in C.
"""

import ctypes
import ctypes.util
import os
import sys

# The library major version and soname this package binds.
ABI_MAJOR = 0
SONAME = "libsecmq.so.0"

c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
c_int = ctypes.c_int
c_size_t = ctypes.c_size_t
c_uint = ctypes.c_uint
c_uint32 = ctypes.c_uint32
c_uint64 = ctypes.c_uint64
POINTER = ctypes.POINTER

PIN_BYTES = 32
ERRMSG_BYTES = 256
OPEN_REASON_COUNT = 14


# --- structs (libsecmq/include/secmq.h) ----------------------------------

class TlsConfig(ctypes.Structure):
    _fields_ = [("cafile", c_char_p), ("capath", c_char_p),
                ("certfile", c_char_p), ("keyfile", c_char_p),
                ("server_name", c_char_p), ("ciphers", c_char_p),
                ("min_version", c_int), ("insecure", c_int),
                ("has_pin", c_int),
                ("pin_sha256", ctypes.c_ubyte * PIN_BYTES)]


class Will(ctypes.Structure):
    _fields_ = [("topic", c_char_p), ("payload", c_void_p),
                ("payloadlen", c_size_t), ("qos", c_int), ("retain", c_int)]


class Config(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("host", c_char_p), ("port", c_int),
                ("transport", c_int), ("tls", TlsConfig),
                ("username", c_char_p), ("password", c_char_p),
                ("client_id", c_char_p), ("keepalive", c_int),
                ("clean_session", c_int), ("protocol", c_int),
                ("will", Will), ("reconnect_min_s", c_int),
                ("reconnect_max_s", c_int), ("connect_timeout_ms", c_int)]


class Message(ctypes.Structure):
    _fields_ = [("topic", c_char_p), ("payload", c_void_p),
                ("payloadlen", c_size_t), ("qos", c_int), ("retain", c_int),
                ("mid", c_int), ("sealed", c_int), ("sender", c_char_p),
                ("seal_mode", c_int)]


class TlsInfo(ctypes.Structure):
    _fields_ = [("version", ctypes.c_char * 16), ("cipher", ctypes.c_char * 64),
                ("resumed", c_int), ("handshakes", c_int)]


class OutboxConfig(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("path", c_char_p), ("sync", c_int),
                ("policy", c_int), ("max_rows", c_uint64),
                ("max_bytes", c_uint64), ("qos0", c_int),
                ("max_inflight", c_int), ("max_batch", c_int)]


OUTBOX_STATS_FIELDS = (
    "rows", "bytes", "inflight", "max_rows", "max_bytes", "recovered",
    "queued", "committed", "commits", "sent", "acked", "dropped_oldest",
    "refused_full", "failed", "commit_errors", "quarantined", "damaged",
    "undeleted", "held_qos2", "key_erased")


class OutboxStats(ctypes.Structure):
    _fields_ = [(name, c_uint64) for name in OUTBOX_STATS_FIELDS]


# secmq/receipt.h. The library writes the first `size` bytes of its own
# struct: passing sizeof of this one keeps working with a longer struct.
RECEIPT_STATS_FIELDS = (
    "sent", "acked", "ranges", "messages", "failed", "pending", "awaiting",
    "receipted", "resent", "missed", "opened", "refused", "rereceipted")


class ReceiptStats(ctypes.Structure):
    _fields_ = [(name, c_uint64) for name in RECEIPT_STATS_FIELDS]


class ReceiptWait(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("resend_ms", c_uint),
                ("resend_max_ms", c_uint), ("give_up_ms", c_uint64),
                ("window", c_uint)]


class ReceiptRow(ctypes.Structure):
    _fields_ = [("state", c_int), ("receipts", c_int), ("got", c_uint),
                ("need", c_uint), ("resends", c_uint)]


class ChannelSpec(ctypes.Structure):
    _fields_ = [("filter", c_char_p), ("publishers", POINTER(c_char_p)),
                ("n_publishers", c_size_t),
                ("subscribers", POINTER(c_char_p)),
                ("n_subscribers", c_size_t), ("allow_mac", c_int)]


class ChannelRatchet(ctypes.Structure):
    _fields_ = [("period_ms", c_uint32), ("grace_ms", c_uint32)]


FILE_ID_BYTES = 16
FILE_HASH_BYTES = 32


class FileEvent(ctypes.Structure):
    _fields_ = [("kind", c_int), ("file_id", ctypes.c_ubyte * FILE_ID_BYTES),
                ("name", c_char_p), ("path", c_char_p), ("peer", c_char_p),
                ("size", c_uint64), ("bytes", c_uint64),
                ("chunks", c_uint32), ("chunk_count", c_uint32),
                ("hash", POINTER(ctypes.c_ubyte)), ("reason", c_int),
                ("rc", c_int), ("detail", c_char_p), ("protocol", c_int)]


class FileSendOpts(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("chunk_size", c_uint32),
                ("window", c_uint), ("retry_ms", c_int),
                ("state", c_char_p), ("receivers", c_uint),
                ("max_rate", c_uint64), ("protocol", c_int)]


class FileRecvOpts(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("max_size", c_uint64),
                ("reserve", c_uint64), ("retry_ms", c_int),
                ("state", c_char_p), ("max_active", c_uint),
                ("stall_ms", c_int)]


# --- callback types --------------------------------------------------------

CONNECT_CB = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_int, c_int, c_int)
DISCONNECT_CB = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_int)
MESSAGE_CB = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, POINTER(Message))
PUBLISH_CB = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_int, c_int)
SUBSCRIBE_CB = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_int, c_int,
                                POINTER(c_int))
UNSUBSCRIBE_CB = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_int)
LOG_CB = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_int, c_char_p)
OPEN_FAILURE_CB = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_char_p, c_int)
NOTE_CB = ctypes.CFUNCTYPE(None, c_void_p, c_char_p)
DELIVERED_CB = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_uint64, c_int)
DURABLE_CB = DELIVERED_CB
FILE_EVENT_CB = ctypes.CFUNCTYPE(None, c_void_p, POINTER(FileEvent))
RECEIPT_CB = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_uint64, c_int,
                              c_uint, c_uint)

# name: (restype, argtypes). Every function the package calls is here.
PROTOTYPES = {
    "secmq_strerror": (c_char_p, [c_int]),
    "secmq_version": (c_char_p, []),
    "secmq_dependency_versions": (c_size_t, [c_char_p, c_size_t]),
    "secmq_init": (c_int, []),
    "secmq_config_init": (None, [c_void_p]),
    "secmq_pin_parse": (c_int, [c_char_p, POINTER(ctypes.c_ubyte)]),
    "secmq_open_reason_name": (c_char_p, [c_int]),
    "secmq_client_new": (c_int, [POINTER(c_void_p), POINTER(Config),
                                 c_void_p]),
    "secmq_client_free": (None, [c_void_p]),
    "secmq_client_on_connect": (None, [c_void_p, CONNECT_CB]),
    "secmq_client_on_disconnect": (None, [c_void_p, DISCONNECT_CB]),
    "secmq_client_on_message": (None, [c_void_p, MESSAGE_CB]),
    "secmq_client_on_publish": (None, [c_void_p, PUBLISH_CB]),
    "secmq_client_on_subscribe": (None, [c_void_p, SUBSCRIBE_CB]),
    "secmq_client_on_unsubscribe": (None, [c_void_p, UNSUBSCRIBE_CB]),
    "secmq_client_on_log": (None, [c_void_p, LOG_CB]),
    "secmq_client_set_log_level": (c_int, [c_void_p, c_int]),
    "secmq_client_set_open_threads": (c_int, [c_void_p, c_uint]),
    "secmq_client_set_sync_interval": (c_int, [c_void_p, c_uint]),
    "secmq_client_on_open_failure": (None, [c_void_p, OPEN_FAILURE_CB]),
    "secmq_client_set_keyring": (c_int, [c_void_p, c_void_p]),
    "secmq_client_allow_plain": (c_int, [c_void_p, c_char_p]),
    "secmq_client_open_counts_v2": (c_int, [c_void_p, POINTER(c_uint64),
                                            c_size_t]),
    "secmq_client_connect": (c_int, [c_void_p]),
    "secmq_outbox_config_init": (None, [c_void_p]),
    "secmq_client_set_outbox": (c_int, [c_void_p, POINTER(OutboxConfig)]),
    "secmq_client_on_delivered": (None, [c_void_p, DELIVERED_CB]),
    "secmq_client_publish_v2": (c_int, [c_void_p, POINTER(c_uint64),
                                        POINTER(c_int), c_char_p, c_char_p,
                                        c_size_t, c_int, c_int, c_uint]),
    "secmq_client_outbox_stats_v2": (c_int, [c_void_p, POINTER(OutboxStats),
                                             c_size_t]),
    "secmq_client_outbox_wait": (c_int, [c_void_p, c_int, c_int]),
    "secmq_client_outbox_release_qos2": (c_int, [c_void_p, c_int,
                                                 POINTER(c_uint64)]),
    "secmq_client_wait_connected": (c_int, [c_void_p, c_int]),
    "secmq_client_disconnect": (c_int, [c_void_p]),
    "secmq_client_publish": (c_int, [c_void_p, POINTER(c_int), c_char_p,
                                     c_char_p, c_size_t, c_int, c_int]),
    "secmq_client_subscribe": (c_int, [c_void_p, POINTER(c_int), c_char_p,
                                       c_int]),
    "secmq_client_unsubscribe": (c_int, [c_void_p, POINTER(c_int),
                                         c_char_p]),
    "secmq_client_loop_start": (c_int, [c_void_p]),
    "secmq_client_loop_stop": (c_int, [c_void_p, c_int]),
    "secmq_client_errmsg": (c_size_t, [c_void_p, c_char_p, c_size_t]),
    "secmq_client_tls_info": (c_int, [c_void_p, POINTER(TlsInfo)]),
    "secmq_client_id": (c_char_p, [c_void_p]),
    "secmq_keyring_open": (c_int, [POINTER(c_void_p), c_char_p, c_char_p,
                                   c_size_t]),
    "secmq_keyring_free": (None, [c_void_p]),
    "secmq_keyring_name": (c_char_p, [c_void_p]),
    "secmq_keyring_set_max_age": (c_int, [c_void_p, c_uint64]),
    "secmq_keyring_errmsg": (c_size_t, [c_void_p, c_char_p, c_size_t]),
    "secmq_identity_create": (c_int, [c_char_p, c_char_p, c_char_p,
                                      c_size_t]),
    "secmq_identity_export": (c_int, [c_char_p, c_char_p, c_size_t,
                                      POINTER(c_size_t), c_char_p,
                                      c_size_t]),
    "secmq_keyring_import": (c_int, [c_char_p, POINTER(c_char_p), c_size_t,
                                     NOTE_CB, c_void_p, c_char_p, c_size_t]),
    "secmq_channel_create": (c_int, [c_char_p, POINTER(ChannelSpec),
                                     c_char_p, NOTE_CB, c_void_p, c_char_p,
                                     c_size_t]),
    "secmq_channel_create_v3": (c_int, [c_char_p, POINTER(ChannelSpec),
                                        c_void_p, POINTER(ChannelRatchet),
                                        c_char_p, NOTE_CB, c_void_p, c_char_p,
                                        c_size_t]),
    "secmq_channel_add": (c_int, [c_char_p, POINTER(ChannelSpec), c_uint64,
                                  c_char_p, NOTE_CB, c_void_p, c_char_p,
                                  c_size_t]),
    "secmq_channel_rotate": (c_int, [c_char_p, c_char_p, c_uint64, c_char_p,
                                     NOTE_CB, c_void_p, c_char_p, c_size_t]),
    "secmq_channel_revoke": (c_int, [c_char_p, c_char_p, c_char_p, c_uint64,
                                     c_char_p, NOTE_CB, c_void_p, c_char_p,
                                     c_size_t]),
    "secmq_identity_rotate": (c_int, [c_char_p, c_char_p, c_uint64, NOTE_CB,
                                      c_void_p, c_char_p, c_size_t]),
    "secmq_client_on_durable": (None, [c_void_p, DURABLE_CB]),
    # secmq/receipt.h: receipts sent (a receiver) and awaited (a sender).
    "secmq_client_set_receipts": (c_int, [c_void_p, c_uint, c_uint]),
    "secmq_client_receipt_stats": (c_int, [c_void_p, POINTER(ReceiptStats),
                                           c_size_t]),
    "secmq_receipt_wait_init": (None, [POINTER(ReceiptWait)]),
    "secmq_client_set_receipt_wait": (c_int, [c_void_p,
                                              POINTER(ReceiptWait)]),
    "secmq_client_on_receipt": (None, [c_void_p, RECEIPT_CB]),
    "secmq_client_receipt_row": (c_int, [c_void_p, c_uint64,
                                         POINTER(ReceiptRow), c_size_t]),
    # secmq/file.h: the transfer objects (the codecs stay in C).
    "secmq_file_reason_name": (c_char_p, [c_int]),
    "secmq_file_send_opts_init": (None, [POINTER(FileSendOpts)]),
    "secmq_file_sender_new": (c_int, [POINTER(c_void_p), c_void_p, c_void_p,
                                      c_char_p, POINTER(FileSendOpts),
                                      FILE_EVENT_CB, c_void_p, c_char_p,
                                      c_size_t]),
    "secmq_file_sender_free": (None, [c_void_p]),
    "secmq_file_sender_add": (c_int, [c_void_p, c_char_p, c_char_p]),
    "secmq_file_sender_handle_connect": (c_int, [c_void_p, c_int]),
    "secmq_file_sender_handle_message": (c_int, [c_void_p,
                                                 POINTER(Message)]),
    "secmq_file_sender_handle_subscribe": (None, [c_void_p, c_int, c_int,
                                                  POINTER(c_int)]),
    "secmq_file_sender_handle_publish": (None, [c_void_p, c_int, c_int]),
    "secmq_file_sender_handle_publish_v2": (c_int, [c_void_p, c_int, c_int]),
    "secmq_file_sender_handle_durable": (None, [c_void_p, c_uint64, c_int]),
    "secmq_file_sender_handle_delivered": (None, [c_void_p, c_uint64,
                                                  c_int]),
    "secmq_file_sender_handle_delivered_v2": (c_int, [c_void_p, c_uint64,
                                                      c_int]),
    "secmq_file_sender_awaiting": (c_size_t, [c_void_p, POINTER(c_int),
                                              POINTER(c_uint64), c_size_t]),
    "secmq_file_sender_tick": (c_int, [c_void_p]),
    "secmq_file_sender_counts": (None, [c_void_p, POINTER(c_uint),
                                        POINTER(c_uint), POINTER(c_uint)]),
    "secmq_file_sender_errmsg": (c_size_t, [c_void_p, c_char_p, c_size_t]),
    "secmq_file_recv_opts_init": (None, [POINTER(FileRecvOpts)]),
    "secmq_file_receiver_new": (c_int, [POINTER(c_void_p), c_void_p,
                                        c_void_p, c_char_p, c_char_p,
                                        POINTER(FileRecvOpts),
                                        FILE_EVENT_CB, c_void_p, c_char_p,
                                        c_size_t]),
    "secmq_file_receiver_free": (None, [c_void_p]),
    "secmq_file_receiver_handle_connect": (c_int, [c_void_p, c_int]),
    "secmq_file_receiver_handle_message": (c_int, [c_void_p,
                                                   POINTER(Message)]),
    "secmq_file_receiver_handle_subscribe": (None, [c_void_p, c_int, c_int,
                                                    POINTER(c_int)]),
    "secmq_file_receiver_handle_publish": (None, [c_void_p, c_int, c_int]),
    "secmq_file_receiver_handle_publish_v2": (c_int, [c_void_p, c_int,
                                                      c_int]),
    "secmq_file_receiver_unacked": (c_uint, [c_void_p]),
    "secmq_file_receiver_awaiting": (c_size_t, [c_void_p, POINTER(c_int),
                                                c_size_t]),
    "secmq_file_receiver_tick": (c_int, [c_void_p]),
    "secmq_file_receiver_errmsg": (c_size_t, [c_void_p, c_char_p,
                                              c_size_t]),
}


def _install_candidates():
    """The library recorded by `cmake --install` next to this package
    (_install.py, written at install time, a path relative to the package
    so a moved or staged prefix still works), if any."""
    try:
        from . import _install  # type: ignore[attr-defined]
    except ImportError:
        return []
    here = os.path.dirname(os.path.abspath(__file__))
    return [os.path.normpath(os.path.join(here, _install.LIBRARY))]


def _directory_candidates():
    """libsecmq.so.0 in the directories `cmake --install` uses by default
    (GNUInstallDirs: the multiarch libdir on Debian) under /usr/local and
    /usr."""
    multiarch = getattr(sys.implementation, "_multiarch", "") or ""
    out = []
    for prefix in ("/usr/local", "/usr"):
        dirs = [os.path.join(prefix, "lib", multiarch)] if multiarch else []
        dirs += [os.path.join(prefix, "lib"), os.path.join(prefix, "lib64")]
        out += [os.path.join(d, SONAME) for d in dirs]
    return out


def _load():
    """Load libsecmq; ImportError naming every place tried and the fix."""
    tried = []
    explicit = os.environ.get("SECMQ_LIBRARY")
    if explicit:
        try:
            return ctypes.CDLL(explicit)
        except OSError as e:
            raise ImportError(
                "secmq: cannot load libsecmq from SECMQ_LIBRARY=%s: %s "
                "(point it at the library file, e.g. "
                "build/lib/libsecmq.so.0)" % (explicit, e)) from None
    candidates = _install_candidates()
    found = ctypes.util.find_library("secmq")
    if found:
        candidates.append(found)
    candidates += _directory_candidates()
    candidates.append(SONAME)   # LD_LIBRARY_PATH and the loader's defaults
    for path in candidates:
        if os.path.isabs(path) and not os.path.exists(path):
            tried.append(path + " (no such file)")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError(
        "secmq: libsecmq not found; tried: %s. Install it (cmake --install "
        "BUILD, then ldconfig for a system prefix) or set "
        "SECMQ_LIBRARY=/path/to/libsecmq.so.0 (in a build tree: "
        "BUILD/lib/libsecmq.so.0)" % "; ".join(tried))


def _declare(lib):
    for name, (restype, argtypes) in PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise ImportError("secmq: %s lacks %s(): it is older than this "
                              "package" % (lib._name, name)) from None
        fn.restype = restype
        fn.argtypes = argtypes


def _check_abi(lib):
    """The library's version and its own idea of struct secmq_config must
    match the ctypes declarations above, or every call would pass garbage:
    secmq_config_init() writes sizeof(secmq_config) into cfg->size and its
    defaults into the fields, which are read back here at the offsets
    ctypes computed."""
    version = lib.secmq_version().decode("ascii", "replace")
    major = version.split(".", 1)[0]
    if major != str(ABI_MAJOR):
        raise ImportError("secmq: %s is libsecmq %s; this package binds "
                          "ABI %d.x" % (lib._name, version, ABI_MAJOR))
    buf = ctypes.create_string_buffer(4096)
    lib.secmq_config_init(buf)
    size = c_size_t.from_buffer(buf).value
    cfg = Config.from_buffer_copy(buf.raw[:ctypes.sizeof(Config)])
    if size != ctypes.sizeof(Config):
        raise ImportError("secmq: %s has sizeof(secmq_config) %d, this "
                          "package expects %d: mismatched versions"
                          % (lib._name, size, ctypes.sizeof(Config)))
    lib.secmq_outbox_config_init(buf)
    osize = c_size_t.from_buffer(buf).value
    ocfg = OutboxConfig.from_buffer_copy(buf.raw[:ctypes.sizeof(OutboxConfig)])
    if osize != ctypes.sizeof(OutboxConfig) or \
            (ocfg.max_rows, ocfg.max_inflight, ocfg.max_batch) != \
            (100000, 20, 1000):
        raise ImportError("secmq: %s lays out secmq_outbox_config "
                          "differently from this package: mismatched "
                          "versions" % lib._name)
    so = FileSendOpts()
    lib.secmq_file_send_opts_init(ctypes.byref(so))
    ro = FileRecvOpts()
    lib.secmq_file_recv_opts_init(ctypes.byref(ro))
    if (so.size, so.chunk_size, so.window, so.receivers) != \
            (ctypes.sizeof(so), 65536, 16, 1) or \
            (ro.size, ro.retry_ms, ro.max_active) != \
            (ctypes.sizeof(ro), 3000, 16):
        raise ImportError("secmq: %s lays out the file transfer options "
                          "differently from this package: mismatched "
                          "versions" % lib._name)
    rw = ReceiptWait()
    lib.secmq_receipt_wait_init(ctypes.byref(rw))
    if (rw.size, rw.resend_ms, rw.resend_max_ms, rw.give_up_ms,
            rw.window) != (ctypes.sizeof(rw), 2000, 30000, 600000, 64):
        raise ImportError("secmq: %s lays out secmq_receipt_wait "
                          "differently from this package: mismatched "
                          "versions" % lib._name)
    if (cfg.keepalive, cfg.clean_session, cfg.tls.min_version,
            cfg.reconnect_max_s, cfg.connect_timeout_ms) != \
            (60, 1, 12, 30, 10000):
        raise ImportError("secmq: %s lays out secmq_config differently "
                          "from this package: mismatched versions"
                          % lib._name)
    return version


lib = _load()
_declare(lib)
VERSION = _check_abi(lib)
if lib.secmq_init() != 0:
    raise ImportError("secmq: secmq_init() failed: libsodium or wolfSSL "
                      "did not start")


def strerror(rc: int) -> str:
    """The library's sentence for a return code (never fails)."""
    return lib.secmq_strerror(rc).decode("utf-8", "replace")


def text(b) -> str:
    """A C string from the library as str (None stays None)."""
    if b is None:
        return None
    return b.decode("utf-8", "replace")


def enc(s, what="string"):
    """str (or bytes, or os.PathLike) -> bytes for a char * argument."""
    if s is None:
        return None
    if isinstance(s, os.PathLike):
        s = os.fspath(s)
    if isinstance(s, bytes):
        b = s
    elif isinstance(s, str):
        b = s.encode("utf-8")
    else:
        raise TypeError("%s must be str, not %s" % (what, type(s).__name__))
    if b"\0" in b:
        raise ValueError("%s contains a NUL character" % what)
    return b
