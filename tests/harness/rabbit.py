"""rabbit.py -- RabbitMQ nodes and secmq-authd for the tests of label
`cluster`: a RabbitMQ node (Debian's rabbitmq-server) on loopback in its own
directory, with its own node name, ports and epmd, its MQTT plugin on a TLS
listener with the test's certificates, asking secmq-authd through
rabbitmq_auth_backend_http; a cluster of such nodes (RabbitCluster: one
epmd, one Erlang cookie, quorum queues for MQTT sessions, formed by
classic_config peer discovery); and secmq-authd itself on a free loopback
port. With management=True a node also opens the management API
(rabbitmq_management) on a free 127.0.0.1 port and lets users of its
internal database log in (before the HTTP backend): add_user() makes one.
Every wait is bounded and scaled (TIMEOUT_SCALE)."""

import base64
import json
import os
import re
import secrets
import signal
import socket
import sqlite3
import ssl
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

import broker as brokermod
from testcase import TIMEOUT_SCALE

RABBIT_BIN = "/usr/lib/rabbitmq/bin"
BIN_DIR = brokermod.default_bin_dir()
NODE_START_S = 90.0 * TIMEOUT_SCALE
CTL_S = 30.0 * TIMEOUT_SCALE       # one rabbitmqctl run


class RabbitNode:
    """One RabbitMQ node in workdir/name with its own node name, ports and
    epmd; plugins are the ones enabled (MQTT and the HTTP auth backend
    unless told). For a node of a cluster (RabbitCluster): epmd_port is the
    cluster's epmd (started and stopped by the cluster, not by the node),
    cookie the Erlang cookie written to HOME/.erlang.cookie (mode 0400),
    conf more rabbitmq.conf lines. management=True adds rabbitmq_management
    on 127.0.0.1:self.mgmt_port (mgmt_port, or a free one; self.mgmt_url)
    and the internal user database as the first auth backend, before the
    HTTP one (for add_user's users); management_tls=True also an https
    listener with the test's broker certificate (self.mgmt_tls_url)."""

    def __init__(self, workdir, pki, authd_addr, name="rabbit",
                 plugins=("rabbitmq_mqtt", "rabbitmq_auth_backend_http"),
                 management=False, mgmt_port=None, management_tls=False,
                 *, epmd_port=None, cookie=None, conf=()):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, 0o700)
        # All of the node's ports from one call (distinct), none the
        # management port the caller chose.
        ports = brokermod.free_ports(5)
        for _ in range(20):
            if mgmt_port not in ports:
                break
            ports = brokermod.free_ports(5)
        self.mqtt_port, dist_port, own_epmd_port = ports[:3]
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
        self.own_epmd = epmd_port is None
        self.node = node_name(name)
        if cookie is not None:
            path = os.path.join(self.dir, ".erlang.cookie")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "w") as fh:
                fh.write(cookie)
        conf_path = os.path.join(self.dir, "rabbitmq.conf")
        url = "http://%s/auth/" % authd_addr
        with open(conf_path, "w") as fh:
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
                "auth_backends.1 = http",
                "auth_http.http_method = post",
                "auth_http.user_path = %suser" % url,
                "auth_http.vhost_path = %svhost" % url,
                "auth_http.resource_path = %sresource" % url,
                "auth_http.topic_path = %stopic" % url] + extra +
                list(conf) + [""]))
        plugins_file = os.path.join(self.dir, "enabled_plugins")
        with open(plugins_file, "w") as fh:
            fh.write("[%s].\n" % ",".join(plugins))
        self.env = dict(os.environ, HOME=self.dir,
                        RABBITMQ_NODENAME=self.node,
                        RABBITMQ_DIST_PORT=str(dist_port),
                        ERL_EPMD_PORT=str(epmd_port or own_epmd_port),
                        ERL_EPMD_ADDRESS=brokermod.HOST,
                        RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
                        RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
                        RABBITMQ_LOGS="-",
                        RABBITMQ_CONFIG_FILE=conf_path,
                        RABBITMQ_ENABLED_PLUGINS_FILE=plugins_file,
                        RABBITMQ_PID_FILE=os.path.join(self.dir, "pid"),
                        # Distribution on loopback only; schedulers that
                        # do not busy-wait (several nodes share few cores).
                        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                            "-kernel inet_dist_use_interface {127,0,0,1} "
                            "+sbwt none +sbwtdcpu none +sbwtdio none"))
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None
        self.log = None
        self.start_s = None
        self.t0 = None

    def spawn(self):
        """Start rabbitmq-server without waiting (start() waits). It gets
        SIGTERM (a clean stop) if the test process dies."""
        self.t0 = time.monotonic()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(RABBIT_BIN, "rabbitmq-server")], env=self.env,
            stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=brokermod.die_with_parent)

    def wait_listener(self, deadline=None):
        """Wait until the MQTT listener accepts connections; returns the
        seconds since spawn()."""
        if deadline is None:
            deadline = self.t0 + NODE_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("rabbitmq-server %s exited %d:\n%s"
                                     % (self.node, self.proc.returncode,
                                        self.tail()))
            try:
                socket.create_connection((brokermod.HOST, self.mqtt_port),
                                         timeout=1).close()
                self.start_s = time.monotonic() - self.t0
                return self.start_s
            except OSError:
                time.sleep(0.2)
        raise AssertionError("RabbitMQ's MQTT listener on %s did not open "
                             "within %.0f s:\n%s"
                             % (self.node, NODE_START_S, self.tail()))

    def start(self):
        self.spawn()
        return self.wait_listener()

    def connack(self, cafile, user, password, client_id):
        """One MQTT 3.1.1 CONNECT (clean session) over TLS to this node;
        the CONNACK's return code, or None when the node closed the link or
        did not answer within a few seconds. A code 0 is followed by a
        DISCONNECT."""
        def field(b):
            return struct.pack("!H", len(b)) + b
        body = (field(b"MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 30) +
                field(client_id.encode()) + field(user.encode()) +
                field(password.encode()))
        ctx = ssl.create_default_context(cafile=cafile)
        try:
            with socket.create_connection((brokermod.HOST, self.mqtt_port),
                                          timeout=5) as raw, \
                    ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(bytes([0x10, len(body)]) + body)
                ack = b""
                while len(ack) < 4:
                    more = s.recv(4 - len(ack))
                    if not more:
                        return None
                    ack += more
                if ack[0] != 0x20 or ack[1] != 2:
                    raise AssertionError("%s: not a CONNACK: %r"
                                         % (self.node, ack))
                if ack[3] == 0:
                    s.sendall(b"\xe0\x00")
                return ack[3]
        except (OSError, ssl.SSLError):
            return None

    def wait_mqtt_ready(self, cafile, user, password, deadline=None):
        """Wait until the node accepts user's MQTT login (CONNACK 0): a
        node whose listener is open may still answer "server unavailable"
        (code 3) while its MQTT client-id tracking joins the cluster;
        returns the seconds since spawn()."""
        if deadline is None:
            deadline = time.monotonic() + NODE_START_S
        codes = []
        for i in range(int(NODE_START_S * 4) + 1):
            code = self.connack(cafile, user, password,
                                "probe-%d-%d" % (os.getpid(), i))
            if code == 0:
                return time.monotonic() - self.t0
            if code not in (3, None):
                raise AssertionError("%s refused %s's login with CONNACK "
                                     "code %d" % (self.node, user, code))
            codes.append(code)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.25)
        raise AssertionError("%s did not accept an MQTT login in time "
                             "(CONNACK codes seen: %r):\n%s"
                             % (self.node, codes[-10:], self.tail()))

    def restart(self):
        """Start the node again after kill(); seconds until its MQTT
        listener opened. RabbitMQ 3.10 sometimes does not finish booting
        a node SIGKILLed moments before (seen here: its log stops after
        "Resetting node maintenance status" for 90 s): such a boot is
        killed and the node started once more, and stderr says so."""
        self.spawn()
        try:
            return self.wait_listener()
        except AssertionError as e:
            sys.stderr.write("%s did not boot again in time; killed and "
                             "started once more. Its log:\n%s\n"
                             % (self.node, e))
        self.kill()
        self.spawn()
        return self.wait_listener()

    def ctl(self, *args, timeout=CTL_S, check=False):
        """rabbitmqctl -n NODE args (this node's cookie and epmd); the
        CompletedProcess, whatever its exit status unless check (then a
        failure raises with its output)."""
        r = subprocess.run(
            [os.path.join(RABBIT_BIN, "rabbitmqctl"), "-n", self.node] +
            list(args), env=self.env, capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError("rabbitmqctl %s: %s%s" % (
                " ".join(args), r.stdout, r.stderr))
        return r

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def add_user(self, name, password, *tags):
        """A user of the internal database with tags and no permissions
        (rabbitmqctl; the password is a test's throw-away one)."""
        self.ctl("add_user", name, password, check=True)
        self.ctl("set_user_tags", name, *tags, check=True)

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

    def kill(self):
        """SIGKILL the node's process group (the script, the Erlang VM and
        its helpers): a node lost without a chance to say so."""
        if self.running():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.wait_stopped()

    def terminate(self):
        """Ask the node to stop (SIGTERM: rabbitmq-server stops the VM
        cleanly) without waiting; wait_stopped() waits."""
        if self.running():
            self.proc.terminate()

    def wait_stopped(self, timeout=None):
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout or 30 * TIMEOUT_SCALE)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        if self.log is not None:
            self.log.close()
            self.log = None

    def stop(self):
        if self.running():
            self.ctl("stop", timeout=30 * TIMEOUT_SCALE)
            self.wait_stopped(15 * TIMEOUT_SCALE)
        elif self.proc is not None:
            self.wait_stopped()
        if self.own_epmd:
            # The epmd this node started (its own port).
            subprocess.run(["epmd", "-kill"], env=self.env,
                           capture_output=True, timeout=10)


class RabbitCluster:
    """size RabbitMQ nodes on loopback forming one cluster: one epmd (a
    free port, 127.0.0.1) started here, one random Erlang cookie, node
    names NAME1..NAMEn listed in every node's classic_config peer
    discovery, MQTT sessions (QoS 1 subscriptions of clean-session-off
    clients) in quorum queues. Node i asks authd_addrs[i] (one secmq-authd
    per node, as deployed). start() boots the nodes one after the other,
    each once the one before has its MQTT listener open, and waits until
    the cluster has size running nodes; stop() stops the nodes and the
    epmd."""

    def __init__(self, workdir, pki, authd_addrs, name="rabbit",
                 plugins=("rabbitmq_mqtt", "rabbitmq_auth_backend_http")):
        self.epmd_port = brokermod.free_ports(1)[0]
        self.epmd = None
        self.epmd_log = os.path.join(workdir, name + "-epmd.log")
        cookie = secrets.token_hex(20).upper()
        names = ["%s%d" % (name, i + 1) for i in range(len(authd_addrs))]
        conf = ["cluster_formation.peer_discovery_backend = classic_config"]
        conf += ["cluster_formation.classic_config.nodes.%d = %s"
                 % (i + 1, node_name(n)) for i, n in enumerate(names)]
        conf += ["mqtt.durable_queue_type = quorum"]
        self.nodes = [RabbitNode(workdir, pki, addr, n, plugins,
                                 epmd_port=self.epmd_port, cookie=cookie,
                                 conf=conf)
                      for n, addr in zip(names, authd_addrs)]
        self.start_s = None

    def start(self):
        """Boot the nodes one after the other; the seconds until the
        cluster had all its nodes running."""
        t0 = time.monotonic()
        with open(self.epmd_log, "wb") as log:
            self.epmd = subprocess.Popen(
                ["epmd", "-port", str(self.epmd_port), "-address",
                 brokermod.HOST], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, preexec_fn=brokermod.die_with_parent)
        wait_port(self.epmd_port, 10 * TIMEOUT_SCALE, self.epmd, "epmd")
        # One node after the other: booted together, the nodes' MQTT
        # plugins race to form the client-id tracking Raft cluster
        # (mqtt_node), and a node can end up in a membership that never
        # elects a leader (seen: "mqtt_node: leader call - leader not
        # known" and every login answered "client ID registration timed
        # out" for minutes). A node's MQTT listener opens after its
        # mqtt_node server started and joined the running nodes' one.
        for n in self.nodes:
            n.spawn()
            n.wait_listener()
        self.wait_running(time.monotonic() + NODE_START_S)
        self.start_s = time.monotonic() - t0
        return self.start_s

    def wait_ready(self, cafile, user, password):
        """Wait until every node accepts user's MQTT login (see
        RabbitNode.wait_mqtt_ready): running nodes and open listeners are
        not yet enough."""
        deadline = time.monotonic() + NODE_START_S
        for n in self.nodes:
            n.wait_mqtt_ready(cafile, user, password, deadline)

    def running_nodes(self, via):
        """The running nodes of the cluster as via (a RabbitNode) sees
        them; None when it does not answer."""
        r = via.ctl("cluster_status", "--formatter", "json")
        if r.returncode != 0:
            return None
        try:
            return sorted(json.loads(r.stdout)["running_nodes"])
        except (ValueError, KeyError, TypeError):
            return None

    def wait_running(self, deadline, via=None):
        """Wait until the cluster's running nodes are all its nodes, as via
        (default: the first node) sees it."""
        nodes = self.nodes
        want = sorted(n.node for n in nodes)
        seen = None
        while time.monotonic() < deadline:
            seen = self.running_nodes(via or nodes[0])
            if seen == want:
                return
            time.sleep(0.5)
        raise AssertionError("the cluster's running nodes are %r, not %r, "
                             "in time:\n%s" % (
                                 seen, want,
                                 "\n".join(n.tail(1500) for n in nodes)))

    def stop(self):
        for n in self.nodes:
            n.terminate()
        for n in self.nodes:
            n.wait_stopped()
        if self.epmd is not None and self.epmd.poll() is None:
            self.epmd.terminate()
            self.epmd.wait(5 * TIMEOUT_SCALE)


def node_name(name):
    """The Erlang node name of the test's node called name."""
    return "secmq%d%s@localhost" % (os.getpid(), name)


def wait_port(port, timeout, proc, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("%s exited %d" % (what, proc.returncode))
        try:
            socket.create_connection((brokermod.HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("%s did not listen on port %d within %.0f s"
                         % (what, port, timeout))


class Authd:
    """secmq-authd on an auth database, listening on a free loopback port
    (self.addr), its log in workdir/NAME.log; stop() ends it."""

    def __init__(self, db, workdir, *extra, name="authd"):
        self.log = open(os.path.join(workdir, name + ".log"), "wb")
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


def copy_db(src, dst):
    """A consistent copy of the auth database src at dst (sqlite's online
    backup, as `sqlite3 src ".backup dst"`): each node's own copy."""
    a = sqlite3.connect(src)
    b = sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        b.close()
        a.close()


def installed():
    """True when Debian's rabbitmq-server is installed."""
    return os.path.exists(os.path.join(RABBIT_BIN, "rabbitmq-server"))
