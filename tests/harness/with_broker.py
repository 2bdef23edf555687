#!/usr/bin/python3
"""with_broker.py -- run one test program against its own mosquitto broker.

    /usr/bin/python3 tests/harness/with_broker.py [options] -- PROGRAM [ARGS]

Starts a Broker (tests/harness/broker.py) in a fresh temp dir, exports what
the program needs (SECMQ_TEST_HOST, SECMQ_TEST_PORT, SECMQ_TEST_CAFILE,
SECMQ_TEST_DIR, SECMQ_TEST_USER_SAM / SECMQ_TEST_PASS_SAM, ...; see
Broker.env()), runs the program, and exits with its exit code. The broker
log is printed when the program fails. SIGUSR1 from the program restarts the
broker on the same ports (SECMQ_TEST_RUNNER_PID names this process).
It does not build anything and only ever listens on 127.0.0.1.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import broker as brokermod  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--bin-dir", help="directory holding secmq-certs "
                    "(default: $SECMQ_BIN_DIR)")
    ap.add_argument("--require-cert", action="store_true",
                    help="the main TLS listener requires a client cert")
    ap.add_argument("--listener", action="append", default=[],
                    choices=brokermod.LISTENER_KINDS,
                    help="extra listener (repeatable)")
    ap.add_argument("--persistence", action="store_true")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="kill the program after this many seconds")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir (also SECMQ_TEST_KEEP=1)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no program given after --")

    restart = {"asked": 0}

    def on_usr1(signum, frame):
        restart["asked"] += 1

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_term)

    name = os.path.basename(cmd[0])
    b = brokermod.Broker(bin_dir=args.bin_dir,
                         listeners=("tls",) + tuple(args.listener),
                         require_cert=args.require_cert,
                         persistence=args.persistence, name=name)
    child = None
    rc = 1
    try:
        b.setup()
        b.start()
        env = dict(os.environ)
        env.update(b.env())
        env["SECMQ_TEST_RUNNER_PID"] = str(os.getpid())
        child = subprocess.Popen(cmd, env=env,
                                 preexec_fn=brokermod.die_with_parent)
        deadline = time.monotonic() + args.timeout
        while True:
            try:
                rc = child.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                pass
            if restart["asked"]:
                restart["asked"] -= 1
                print("with_broker: restarting the broker", file=sys.stderr)
                b.restart()
            if time.monotonic() >= deadline:
                print("with_broker: %s did not finish in %.0f s, killed"
                      % (name, args.timeout), file=sys.stderr)
                child.kill()
                child.wait(timeout=10)
                rc = 124
                break
        if rc < 0:
            print("with_broker: %s killed by signal %d" % (name, -rc),
                  file=sys.stderr)
            rc = 128 - rc
    except brokermod.BrokerError as e:
        print("with_broker: %s" % e, file=sys.stderr)
        rc = 2
    except KeyboardInterrupt:
        print("with_broker: interrupted", file=sys.stderr)
        rc = 130
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        failed = rc != 0
        if failed and b.log_path:
            sys.stderr.write("---- mosquitto log (last 80 lines) ----\n%s\n"
                             "---- end of mosquitto log ----\n"
                             % b.log_tail(80))
        b.close(keep=args.keep or None)
    return rc


if __name__ == "__main__":
    sys.exit(main())
