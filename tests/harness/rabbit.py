"""rabbit.py -- RabbitMQ nodes and secmq-authd for the tests of label
`cluster`: a RabbitMQ node (Debian's rabbitmq-server) on loopback in its own
directory, with its own node name, ports and epmd, its MQTT plugin on a TLS
listener with the test's certificates, asking secmq-authd through
rabbitmq_auth_backend_http; and secmq-authd itself on a free loopback port.
With management=True a node also opens the management API
(rabbitmq_management) on a free 127.0.0.1 port and lets users of its
internal database log in (before the HTTP backend): add_user() makes one.
Every wait is bounded and scaled (TIMEOUT_SCALE)."""

import base64
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import broker as brokermod
from testcase import TIMEOUT_SCALE

RABBIT_BIN = "/usr/lib/rabbitmq/bin"
BIN_DIR = brokermod.default_bin_dir()
NODE_START_S = 90.0 * TIMEOUT_SCALE


class RabbitNode:
    """One RabbitMQ node in workdir/name with its own node name, ports and
    epmd; plugins are the ones enabled (MQTT and the HTTP auth backend
    unless told). management=True adds rabbitmq_management on
    127.0.0.1:self.mgmt_port (mgmt_port, or a free one; self.mgmt_url) and
    the internal user database as the first auth backend, before the HTTP
    one (for add_user's users); management_tls=True also an https
    listener with the test's broker certificate (self.mgmt_tls_url)."""

    def __init__(self, workdir, pki, authd_addr, name="rabbit",
                 plugins=("rabbitmq_mqtt", "rabbitmq_auth_backend_http"),
                 management=False, mgmt_port=None, management_tls=False):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, 0o700)
        # All of the node's ports from one call (distinct), none the
        # management port the caller chose.
        ports = brokermod.free_ports(5)
        for _ in range(20):
            if mgmt_port not in ports:
                break
            ports = brokermod.free_ports(5)
        self.mqtt_port, dist_port, epmd_port = ports[:3]
        self.mgmt_port = None
        self.mgmt_url = None
        self.mgmt_tls_url = None
        extra = []
        if management:
            self.mgmt_port = mgmt_port or ports[3]
            self.mgmt_url = "http://%s:%d" % (brokermod.HOST, self.mgmt_port)
            plugins = tuple(plugins) + ("rabbitmq_management",)
            # The internal database first: the management user's logins
            # never reach secmq-authd (MQTT users are not in it).
            extra = ["auth_backends.1 = internal",
                     "auth_backends.2 = http",
                     "management.tcp.ip = %s" % brokermod.HOST,
                     "management.tcp.port = %d" % self.mgmt_port]
            if management_tls:
                tls_port = ports[4]
                self.mgmt_tls_url = "https://%s:%d" % (brokermod.HOST,
                                                        tls_port)
                extra += [
                    "management.ssl.ip = %s" % brokermod.HOST,
                    "management.ssl.port = %d" % tls_port,
                    "management.ssl.cacertfile = %s" % os.path.join(
                        pki, "ca.crt"),
                    "management.ssl.certfile = %s" % os.path.join(
                        pki, "broker.crt"),
                    "management.ssl.keyfile = %s" % os.path.join(
                        pki, "broker.key")]
        self.node = "secmq%d%s@localhost" % (os.getpid(), name)
        conf = os.path.join(self.dir, "rabbitmq.conf")
        url = "http://%s/auth/" % authd_addr
        with open(conf, "w") as fh:
            fh.write("\n".join([
                "listeners.tcp = none",
                "mqtt.listeners.tcp = none",
                "mqtt.listeners.ssl.default = %s:%d" % (brokermod.HOST,
                                                        self.mqtt_port),
                "ssl_options.cacertfile = %s" % os.path.join(pki, "ca.crt"),
                "ssl_options.certfile = %s" % os.path.join(pki, "broker.crt"),
                "ssl_options.keyfile = %s" % os.path.join(pki, "broker.key"),
                "ssl_options.verify = verify_none",
                "ssl_options.fail_if_no_peer_cert = false",
                "mqtt.allow_anonymous = false",
                "mqtt.vhost = /",
                "mqtt.exchange = amq.topic",
                "auth_backends.1 = http" if not management else "",
                "auth_http.http_method = post",
                "auth_http.user_path = %suser" % url,
                "auth_http.vhost_path = %svhost" % url,
                "auth_http.resource_path = %sresource" % url,
                "auth_http.topic_path = %stopic" % url] + extra + [""]))
        plugins_file = os.path.join(self.dir, "enabled_plugins")
        with open(plugins_file, "w") as fh:
            fh.write("[%s].\n" % ",".join(plugins))
        self.env = dict(os.environ, HOME=self.dir,
                        RABBITMQ_NODENAME=self.node,
                        RABBITMQ_DIST_PORT=str(dist_port),
                        ERL_EPMD_PORT=str(epmd_port),
                        ERL_EPMD_ADDRESS=brokermod.HOST,
                        RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
                        RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
                        RABBITMQ_LOGS="-",
                        RABBITMQ_CONFIG_FILE=conf,
                        RABBITMQ_ENABLED_PLUGINS_FILE=plugins_file,
                        RABBITMQ_PID_FILE=os.path.join(self.dir, "pid"),
                        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                            "-kernel inet_dist_use_interface {127,0,0,1}"))
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None
        self.start_s = None

    def start(self):
        t0 = time.monotonic()
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(RABBIT_BIN, "rabbitmq-server")], env=self.env,
            stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = t0 + NODE_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("rabbitmq-server exited %d:\n%s"
                                     % (self.proc.returncode, self.tail()))
            try:
                socket.create_connection((brokermod.HOST, self.mqtt_port),
                                         timeout=1).close()
                self.start_s = time.monotonic() - t0
                return self.start_s
            except OSError:
                time.sleep(0.2)
        raise AssertionError("RabbitMQ's MQTT listener did not open within "
                             "%.0f s:\n%s" % (NODE_START_S, self.tail()))

    def ctl(self, *args, check=True):
        """rabbitmqctl on this node (bounded)."""
        r = subprocess.run([os.path.join(RABBIT_BIN, "rabbitmqctl"), "-n",
                            self.node] + list(args), env=self.env,
                           capture_output=True, text=True,
                           timeout=60 * TIMEOUT_SCALE)
        if check and r.returncode != 0:
            raise AssertionError("rabbitmqctl %s: %s%s" % (
                " ".join(args), r.stdout, r.stderr))
        return r

    def add_user(self, name, password, *tags):
        """A user of the internal database with tags and no permissions
        (rabbitmqctl; the password is a test's throw-away one)."""
        self.ctl("add_user", name, password)
        self.ctl("set_user_tags", name, *tags)

    def api(self, method, path, user, password, headers=None):
        """(status, body) of a management API request (management=True)."""
        req = urllib.request.Request(self.mgmt_url + path, method=method)
        token = base64.b64encode(("%s:%s" % (user, password)).encode())
        req.add_header("Authorization", "Basic " + token.decode())
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10 * TIMEOUT_SCALE) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def wait_management(self, user, password):
        """Seconds until the management API answers user (bounded)."""
        t0 = time.monotonic()
        while time.monotonic() < t0 + NODE_START_S:
            try:
                if self.api("GET", "/api/whoami", user, password)[0] == 200:
                    return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("the management API did not answer within "
                             "%.0f s:\n%s" % (NODE_START_S, self.tail()))

    def tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read().replace(b"\0", b"").decode(
                    "utf-8", "replace")[-n:]
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            subprocess.run([os.path.join(RABBIT_BIN, "rabbitmqctl"), "-n",
                            self.node, "stop"], env=self.env,
                           capture_output=True, timeout=30 * TIMEOUT_SCALE)
            try:
                self.proc.wait(15 * TIMEOUT_SCALE)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # The epmd this node started (its own port).
        subprocess.run(["epmd", "-kill"], env=self.env, capture_output=True,
                       timeout=10)
        if self.proc is not None:
            self.log.close()



class Authd:
    """secmq-authd on an auth database, listening on a free loopback port
    (self.addr), its log in dir/authd.log; stop() ends it."""

    def __init__(self, db, workdir, *extra):
        self.log = open(os.path.join(workdir, "authd.log"), "wb")
        self.proc = subprocess.Popen(
            [os.path.join(BIN_DIR, "secmq-authd"), "--db", db, "--listen",
             "127.0.0.1:0", "-v"] + list(extra), stderr=self.log,
            stdout=subprocess.DEVNULL)
        self.addr = self.wait(r"listening on (\S+)", 10 * TIMEOUT_SCALE)
        if self.addr is None:
            self.stop()
            raise AssertionError("secmq-authd did not start: %s"
                                 % self.text())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5 * TIMEOUT_SCALE)
        self.log.close()

    def text(self):
        with open(self.log.name, "r", errors="replace") as fh:
            return fh.read()

    def wait(self, pattern, timeout):
        """The first group of pattern (or the whole match) once the log has
        it; None after timeout or when secmq-authd has exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text())
            if m:
                return m.group(1) if m.groups() else m.group(0)
            if self.proc.poll() is not None:
                return None
            time.sleep(0.05)
        return None


def installed():
    """True when Debian's rabbitmq-server is installed."""
    return os.path.exists(os.path.join(RABBIT_BIN, "rabbitmq-server"))
