#!/usr/bin/python3
"""asan_run.py -- run /usr/bin/python3 on a script or module with the
sanitizer runtimes preloaded (a SECMQ_SANITIZE libsecmq cannot be loaded
otherwise), and judge the sanitizers' report.

    asan_run.py --preload LIBASAN[:LIBUBSAN] [--keep-preload]
        [--children-no-leaks] [--expect TEXT] \\
        -- SCRIPT [ARGS...]   or   -- -m MODULE [ARGS...]

The child runs with PYTHONMALLOC=malloc (Python's objects then live in
malloc'ed blocks LeakSanitizer scans, so what a live Python object
points to is reachable), ASAN_OPTIONS detect_leaks=1, abort_on_error=1
and handle_sigill=1 (UBSan's trap mode stops the child with SIGILL and
ASan prints the stack; with its runtime, UBSan halts on the first
error). Leak detection stays on: LeakSanitizer reports at the
interpreter's exit, where Python and its extension modules may leave
blocks of their own unfreed (e.g. _cffi_backend's under pytest). This
runner reads that report and fails when

  - the script did not return or exit 0 (the child writes its status
    just before the interpreter exits), or the process ended non-zero
    with no leak report to explain it; with --expect, TEXT not printed;
  - AddressSanitizer or UBSan reported an error (they abort the child);
  - any leaked block was allocated by libsecmq or by one of the
    libraries only libsecmq brings into the process (wolfSSL,
    libmosquitto, libsodium, sqlite): the first frame of its stack that
    is neither the sanitizer's allocator nor libc/the loader decides
    whose allocation it is (Python's own leaks start in python3.11,
    _ctypes or libffi, also when a library thread called into Python).

With --keep-preload the child's own children (tools, brokers, Python
programs a test starts) inherit LD_PRELOAD; by default it is removed from
the child's os.environ before the script runs.

With --children-no-leaks (implies --keep-preload) the child's children
run with detect_leaks=0 in ASAN_OPTIONS: a Python program a test starts
that exits normally would otherwise end with LeakSanitizer's report of
Python's own leaks (its exit status then non-zero), and it is nobody's
verdict here. The child itself parsed its options at start-up and keeps
detect_leaks=1: its leaks are judged as above. Sanitizer errors in the
children still abort them (abort_on_error stays), which the test sees as
a failed program; their leaks (also the C tools' and the broker
plugin's) are left to the tests that run those programs on their own.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

PYTHON = "/usr/bin/python3"
TIMEOUT_S = 600.0
SHOW_LEAKS = 8          # leak stacks repeated in the verdict

# Modules whose allocations are libsecmq's or were made for it: nothing
# else in a Python process loads them.
OURS = re.compile(r"libsecmq|libwolfssl|libmosquitto|libsodium|libsqlite3|"
                  r"/libsecmq/src/|\bin secmq_|\bin wolfSSL|\bin wc_|"
                  r"\bin mosquitto_|\bin sodium_|\bin sqlite3")
# Frames that only pass an allocation on: the sanitizer's interceptors,
# libc (strdup, getaddrinfo, pthread_create) and the dynamic loader.
PASS_ON = re.compile(r"libsanitizer|__interceptor_|\bin (malloc|calloc|"
                     r"realloc|free|strdup|strndup)\b|libc\.so|ld-linux|"
                     r"/libc-|libasan|libubsan")
SANITIZER_ERROR = re.compile(r"ERROR: AddressSanitizer|runtime error: |"
                             r"ERROR: UndefinedBehaviorSanitizer")
LEAK_HEADER = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in "
                         r"(\d+) object\(s\) allocated from:")
FRAME = re.compile(r"^\s+#(\d+) ")

BOOT = """\
import os, runpy, sys
if not {keep}:
    os.environ.pop("LD_PRELOAD", None)
if {children_no_leaks}:
    _opts = [o for o in os.environ.get("ASAN_OPTIONS", "").split(":")
             if o and not o.startswith("detect_leaks=")]
    os.environ["ASAN_OPTIONS"] = ":".join(_opts + ["detect_leaks=0"])
os.environ.pop("PYTHONMALLOC", None)
args = sys.argv[1:]
status = 1
try:
    if args[0] == "-m":
        sys.argv = args[1:]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
        runpy.run_path(args[0], run_name="__main__")
    status = 0
except SystemExit as e:
    status = e.code if isinstance(e.code, int) else (0 if e.code is None
                                                     else 1)
except BaseException:
    import traceback
    traceback.print_exc()
finally:
    sys.stdout.flush()
    sys.stderr.write("\\n%s %d\\n" % ({marker!r}, status))
    sys.stderr.flush()
sys.exit(status)
"""
# The last line the child writes before the interpreter exits (and
# LeakSanitizer reports): the script's own exit status.
MARKER = "asan_run.py child exit status"
# GCC 12's sanitizer runtime (Debian 12) intercepts __tls_get_addr and
# takes a dynamic TLS block that lands at offset 16 of a page for a
# pre-2.25 glibc header; LeakSanitizer's tracer then reads past it at exit
# and dies ("Tracer caught signal 11", no leak report), by chance, on any
# process with threads. Fixed upstream in GCC 14 / LLVM 17.
NO_TLS_GET_ADDR = "intercept_tls_get_addr=0"
STATUS = re.compile(r"^%s (-?\d+)$" % re.escape(MARKER), re.M)


def parse_leaks(text):
    """[(header, [frame lines])] of every leak in a LeakSanitizer
    report."""
    leaks = []
    cur = None
    for line in text.splitlines():
        if LEAK_HEADER.match(line):
            cur = (line, [])
            leaks.append(cur)
        elif cur is not None and FRAME.match(line):
            cur[1].append(line.strip())
        elif cur is not None and line.strip() == "":
            cur = None
    return leaks


def owner_is_ours(frames):
    """True when the allocation was made by libsecmq or its libraries:
    the first frame past the allocator, libc and the loader is theirs;
    a stack that never leaves those counts as ours if any frame is."""
    for f in frames:
        if PASS_ON.search(f):
            continue
        return bool(OURS.search(f))
    return any(OURS.search(f) for f in frames)


def judge(rc, report, expect_ok):
    """A list of problems (empty: pass) from the child's exit status and
    its sanitizer output."""
    problems = []
    if SANITIZER_ERROR.search(report):
        m = SANITIZER_ERROR.search(report)
        start = max(0, report.rfind("\n", 0, max(0, m.start() - 200)))
        problems.append("sanitizer error:\n" + report[start:start + 4000])
    leaks = parse_leaks(report)
    ours = [(h, fr) for h, fr in leaks if owner_is_ours(fr)]
    for h, fr in ours[:SHOW_LEAKS]:
        problems.append("leak allocated by libsecmq or its libraries: %s\n"
                        "    %s" % (h, "\n    ".join(fr[:16])))
    if len(ours) > SHOW_LEAKS:
        problems.append("... and %d more such leak stacks (the report "
                        "above has them all)" % (len(ours) - SHOW_LEAKS))
    if "ERROR: LeakSanitizer" in report and not leaks:
        problems.append("LeakSanitizer reported leaks this runner could "
                        "not parse")
    m = STATUS.search(report)
    if m is None:
        problems.append("the child ended (exit %d) before its script "
                        "returned" % rc)
    elif m.group(1) != "0":
        problems.append("the script exited %s" % m.group(1))
    if rc != 0 and not (leaks and "ERROR: LeakSanitizer" in report):
        problems.append("the child exited %d without a leak report" % rc)
    if expect_ok is not None and expect_ok not in report:
        problems.append("the child never printed %r" % expect_ok)
    return problems, leaks, ours


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preload", required=True,
                    help="sanitizer runtimes, colon-separated")
    ap.add_argument("--keep-preload", action="store_true")
    ap.add_argument("--children-no-leaks", action="store_true",
                    help="the child's children run with detect_leaks=0 "
                    "(implies --keep-preload)")
    ap.add_argument("--expect", default=None,
                    help="text the child must print (stdout or stderr)")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    if not args:
        ap.error("nothing to run (-- SCRIPT or -- -m MODULE)")
    for lib in a.preload.split(":"):
        if not os.path.isfile(lib):
            sys.exit("asan_run.py: sanitizer runtime %s does not exist "
                     "(the compiler's, found at configure time)" % lib)
    env = dict(os.environ)
    env["LD_PRELOAD"] = a.preload
    env["PYTHONMALLOC"] = "malloc"
    # handle_sigill: UBSan's trap mode (cmake/SecmqWarnings.cmake) stops
    # at an illegal instruction; AddressSanitizer then prints the stack.
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1:" \
        "handle_sigill=1:malloc_context_size=30:" + NO_TLS_GET_ADDR
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    boot = BOOT.format(keep=a.keep_preload or a.children_no_leaks,
                       children_no_leaks=a.children_no_leaks, marker=MARKER)
    cmd = [PYTHON, "-c", boot] + args
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out:
        try:
            p = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=env,
                               timeout=TIMEOUT_S)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = None
        out.seek(0)
        report = out.read().decode("utf-8", "replace")
    took = time.monotonic() - t0
    sys.stdout.write(report)
    if rc is None:
        sys.exit("asan_run.py: FAIL: %s did not finish in %.0f s"
                 % (" ".join(args), TIMEOUT_S))
    problems, leaks, ours = judge(rc, report, a.expect)
    print("\nasan_run.py: %s exited %d after %.1f s; LeakSanitizer: %d "
          "leak stacks, %d of them libsecmq's" % (" ".join(args), rc, took,
                                                 len(leaks), len(ours)))
    if problems:
        print("asan_run.py: FAIL:\n" + "\n".join(problems))
        sys.exit(1)
    print("asan_run.py: PASS (no sanitizer error, no leak of libsecmq or "
          "its libraries; the other leak stacks are Python's own)")


if __name__ == "__main__":
    main()
