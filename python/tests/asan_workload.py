#!/usr/bin/python3
"""asan_workload.py -- the C paths the Python package drives, in one
process, for a sanitizer build of libsecmq (run by asan_run.py, which
preloads the sanitizer runtimes and judges the leak report).

Against a real mosquitto with the secmq_auth.so plugin and real TLS
(tests/harness/broker.py, auth="plugin": sam may write `status`, alice
read it): keyrings made with secmq-keys, a rotation and other keyring
management through secmq.Keyring; 1,000 sealed (signed) QoS 1 messages
from sam's secmq.Client to alice's, every one opened and checked (payload,
sender, mode, QoS) and every publish acknowledged; connect / publish /
disconnect / close cycles; a wrong CA raising TLSCAError and a wrong
password AuthError. Prints "asan workload: OK" at the end, and exits
non-zero (AssertionError) when anything differs.
"""

import os
import queue
import secrets
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "harness"))

import broker as brokermod  # noqa: E402
import secmq  # noqa: E402

N = int(os.environ.get("SECMQ_ASAN_MESSAGES", "1000"))
CYCLES = 5
WAIT_S = 120.0          # everything under ASan is several times slower
TOPIC = "status"


def keys(b, *args):
    tool = os.path.join(b.bin_dir, "secmq-keys")
    r = subprocess.run([tool] + list(args), capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "secmq-keys %s: %s" % (" ".join(args),
                                                     r.stderr.strip())
    return r.stdout


def make_world(b):
    """sam and alice by secmq-keys; sam's channel on TOPIC; the rest
    (a rotation, alice's import of it, a third identity) through
    secmq.Keyring. Returns {name: keyring dir}."""
    kd = os.path.join(b.dir, "keys")
    os.mkdir(kd, 0o700)
    k = {n: os.path.join(kd, n) for n in ("sam", "alice", "bob")}
    pub = {n: os.path.join(kd, n + ".pub") for n in k}
    for n in ("sam", "alice"):
        keys(b, "init", "--keyring", k[n], "--name", n)
        with open(pub[n], "w") as fh:
            fh.write(keys(b, "export", "--keyring", k[n]))
    g1 = os.path.join(kd, "g1")
    keys(b, "channel", "create", "--keyring", k["sam"], "--topic", TOPIC,
         "--publisher", pub["sam"], "--subscriber", pub["alice"],
         "--out", g1)
    keys(b, "import", "--keyring", k["alice"], pub["sam"],
         os.path.join(g1, "alice.grant"))
    K = secmq.Keyring
    K.init(k["bob"], "bob")
    try:
        K.init(k["bob"], "bob")
        raise AssertionError("a second init of bob was not refused")
    except secmq.KeyringError as e:
        assert "identity" in str(e), str(e)
    with open(pub["bob"], "w") as fh:
        fh.write(K.export(k["bob"]))
    assert K.export(k["sam"]) == open(pub["sam"]).read()
    K.import_files(k["alice"], [pub["bob"]])
    try:
        K.import_files(k["alice"], [os.path.join(kd, "no-such.grant")])
        raise AssertionError("importing a missing file was not refused")
    except secmq.KeyringError:
        pass
    # Epoch 2, made from Python: the messages below are sealed under it.
    g2 = os.path.join(kd, "g2")
    assert K.channel_rotate(k["sam"], TOPIC, g2, grace=0)
    K.import_files(k["alice"], [os.path.join(g2, "alice.grant")])
    out = keys(b, "list", "--keyring", k["alice"])
    assert TOPIC in out, out
    return k


def client(b, user, **kw):
    c = secmq.Client(**kw)
    c.tls_set(ca_certs=b.cafile)
    c.username_pw_set(user, b.users[user])
    return c


def get(q, what):
    try:
        return q.get(timeout=WAIT_S)
    except queue.Empty:
        raise AssertionError("no %s within %.0f s" % (what, WAIT_S))


def thousand(b, k):
    """N sealed QoS 1 messages sam -> alice, each opened and checked."""
    kr = secmq.Keyring(k["alice"])
    assert kr.name == "alice", kr.name
    msgs = queue.Queue()
    refused = []
    subacks = queue.Queue()
    sub = client(b, "alice", keyring=kr)
    sub.on_message = lambda c, u, m: msgs.put(m)
    sub.on_open_failure = lambda c, u, t, r: refused.append((t, r))
    sub.on_subscribe = lambda c, u, mid, granted: subacks.put(granted)
    sub.loop_start()
    assert sub.connect(b.host, b.port, 30) == 0
    try:
        kr.close()
        raise AssertionError("closing a keyring in use was not refused")
    except secmq.StateError:
        pass
    sub.subscribe(TOPIC, 1)
    assert get(subacks, "SUBACK") == (1,)
    pub = client(b, "sam", keyring=k["sam"])
    acked = queue.Queue()
    pub.on_publish = lambda c, u, mid: acked.put(mid)
    pub.loop_start()
    pub.connect(b.host, b.port, 30)
    sent = {}
    infos = []
    for i in range(N):
        payload = b"%04d %s" % (i, secrets.token_hex(8).encode())
        sent[payload] = i
        info = pub.publish(TOPIC, payload, qos=1)
        assert info.rc == 0, info.rc
        infos.append(info)
    got = set()
    for i in range(N):
        m = get(msgs, "message %d of %d" % (i + 1, N))
        assert m.topic == TOPIC and m.qos == 1, (m.topic, m.qos)
        assert (m.sealed, m.sender, m.seal_mode) == \
            (True, "sam", secmq.SEAL_SIGNED), (m.sealed, m.sender)
        assert m.payload in sent, m.payload
        assert m.payload not in got, "duplicate %r" % m.payload
        got.add(m.payload)
    for info in infos:
        assert info.wait_for_publish(WAIT_S), "mid %d not acked" % info.mid
    mids = set(get(acked, "on_publish") for _ in range(N))
    assert mids == set(i.mid for i in infos)
    assert not refused, refused
    counts = sub.open_counts()
    assert counts["ok"] == N, counts
    assert msgs.empty()
    pub.disconnect()
    pub.loop_stop()
    pub.close()
    sub.close()
    kr.close()


def cycles(b, k):
    """Connect, publish (sealed, with a keyring given by path), wait for
    the acknowledgement, disconnect, close; once with `with`."""
    for i in range(CYCLES):
        c = client(b, "sam", keyring=k["sam"])
        c.loop_start()
        c.connect(b.host, b.port, 30)
        assert c.is_connected()
        assert c.tls_info()
        assert c.publish(TOPIC, "cycle %d" % i, qos=1).wait_for_publish(
            WAIT_S)
        c.disconnect()
        c.loop_stop()
        c.close()
    with client(b, "alice") as c:
        c.connect(b.host, b.port, 30)
        c.disconnect()
    # connect() without a loop thread, then close() only.
    c = client(b, "alice")
    c.connect(b.host, b.port, 30)
    c.close()


def refusals(b):
    """A CA that did not sign the broker's certificate, a wrong
    password."""
    c = secmq.Client()
    c.tls_set(ca_certs=b.other_cafile)
    c.username_pw_set("alice", b.users["alice"])
    try:
        c.connect(b.host, b.port, 30)
        raise AssertionError("a wrong CA was accepted")
    except secmq.TLSCAError as e:
        assert e.rc == -11, e.rc        # SECMQ_E_TLS_CA
        assert "CA" in str(e), str(e)
    finally:
        c.close()
    c = secmq.Client()
    c.tls_set(ca_certs=b.cafile)
    c.username_pw_set("alice", "not-" + b.users["alice"])
    try:
        c.connect(b.host, b.port, 30)
        raise AssertionError("a wrong password was accepted")
    except secmq.AuthError:
        pass
    finally:
        c.close()


def main():
    t0 = time.monotonic()
    with brokermod.Broker(auth="plugin", name="pyasan") as b:
        os.environ["XDG_RUNTIME_DIR"] = b.run_dir
        k = make_world(b)
        thousand(b, k)
        cycles(b, k)
        refusals(b)
        # Stopped first: the plugin's leak report comes at the broker's
        # exit.
        b.stop()
        log = b.log_text()
    assert not brokermod.SANITIZER_REPORT.search(log), \
        "the plugin's sanitizers reported in the broker's log:\n" + log[-4000:]
    print("asan workload: OK (%d sealed QoS 1 messages opened, %d cycles, "
          "TLS and login refusals) in %.1f s"
          % (N, CYCLES, time.monotonic() - t0))


if __name__ == "__main__":
    main()
