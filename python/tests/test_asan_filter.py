"""test_asan_filter.py -- asan_run.py's verdict on sanitizer reports as
LeakSanitizer and AddressSanitizer print them (excerpts of real runs of
python_asan): Python's own leaks pass; a block allocated by libsecmq,
or by wolfSSL for it, fails; so do a sanitizer error, a script that
failed, and a child that died before its script returned. Needs no
library: the runner's judge() alone."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import asan_run  # noqa: E402

OK = "\n%s 0\n" % asan_run.MARKER
HEAD = "=================================================================\n" \
    "==8026==ERROR: LeakSanitizer: detected memory leaks\n\n"
PYTHON_LEAKS = """\
Direct leak of 15149 byte(s) in 116 object(s) allocated from:
    #0 0x7f359d8b89cf in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69
    #1 0x7f359c125e58  (/usr/lib/python3/dist-packages/_cffi_backend.cpython-311-x86_64-linux-gnu.so+0x19e58)

Indirect leak of 120 byte(s) in 1 object(s) allocated from:
    #0 0x7f359d8b89cf in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69
    #1 0x51744d in PyDict_Copy (/usr/bin/python3.11+0x51744d)

"""
# A thread state made when a library thread first called into Python:
# libsecmq is on the stack, but the block is Python's.
CALLBACK_LEAK = """\
Direct leak of 296 byte(s) in 1 object(s) allocated from:
    #0 0x7f359d8b89cf in __interceptor_calloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:77
    #1 0x5a1b2c in PyThreadState_New (/usr/bin/python3.11+0x5a1b2c)
    #2 0x7f359c0e1d11  (/usr/lib/python3.11/lib-dynload/_ctypes.cpython-311-x86_64-linux-gnu.so+0x11d11)
    #3 0x7fa07cb1a000 in deliver_one /work/x/libsecmq/src/client_deliver.c:120

"""
SECMQ_LEAK = """\
Direct leak of 9768 byte(s) in 11 object(s) allocated from:
    #0 0x7fa07fab83b7 in __interceptor_calloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:77
    #1 0x7fa07cb13f95 in secmq_client_new /work/wt-pyasan/libsecmq/src/client.c:383
    #2 0x7fa07e598f79  (/lib/x86_64-linux-gnu/libffi.so.8+0x6f79)

"""
WOLFSSL_LEAK = """\
Indirect leak of 54736 byte(s) in 11 object(s) allocated from:
    #0 0x7ff7c40b89cf in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69
    #1 0x7ff7c0d5b446 in wolfSSL_CTX_new_ex (/lib/x86_64-linux-gnu/libwolfssl.so.35+0x15b446)

"""
STRDUP_LEAK = """\
Direct leak of 6 byte(s) in 1 object(s) allocated from:
    #0 0x7ff7c40b89cf in __interceptor_strdup ../../../../src/libsanitizer/asan/asan_interceptors.cpp:439
    #1 0x7fa07cb13f95 in secmq__config_copy /work/x/libsecmq/src/config.c:40

"""
ASAN_ERROR = """\
==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010
READ of size 8 at 0x602000000010 thread T3
    #0 0x7fa07cb13f95 in deliver_one /work/x/libsecmq/src/client_deliver.c:99
"""


def verdict(report, rc=134, expect=None):
    return asan_run.judge(rc, report, expect)[0]


def test_clean_run_passes():
    assert verdict("asan workload: OK\n" + OK, rc=0,
                   expect="asan workload: OK") == []


def test_python_own_leaks_pass():
    assert verdict(HEAD + PYTHON_LEAKS + CALLBACK_LEAK + OK) == []


def test_libsecmq_leak_fails():
    problems = verdict(HEAD + PYTHON_LEAKS + SECMQ_LEAK + OK)
    assert len(problems) == 1
    assert "secmq_client_new" in problems[0]


def test_wolfssl_and_libc_allocations_for_libsecmq_fail():
    assert len(verdict(HEAD + WOLFSSL_LEAK + OK)) == 1
    assert len(verdict(HEAD + STRDUP_LEAK + OK)) == 1


def test_sanitizer_error_fails():
    problems = verdict("x\n" + ASAN_ERROR + OK)
    assert any("heap-use-after-free" in p for p in problems)


def test_failed_script_and_early_death_fail():
    bad = HEAD + PYTHON_LEAKS + "\n%s 1\n" % asan_run.MARKER
    assert any("script exited 1" in p for p in verdict(bad))
    assert any("before its script returned" in p
               for p in verdict(HEAD + PYTHON_LEAKS))
    assert any("never printed" in p
               for p in verdict(OK, rc=0, expect="asan workload: OK"))
    assert any("without a leak report" in p for p in verdict(OK, rc=1))


def boot_child_env(children_no_leaks, keep=False):
    """What a grandchild would inherit from the child asan_run.py starts
    (the boot code run by plain python3, no sanitizer needed)."""
    import json
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "show.py")
        with open(script, "w") as fh:
            fh.write("import json, os\nprint(json.dumps({k: os.environ.get"
                     "(k) for k in ('ASAN_OPTIONS', 'LD_PRELOAD')}))\n")
        boot = asan_run.BOOT.format(keep=keep,
                                    children_no_leaks=children_no_leaks,
                                    marker=asan_run.MARKER)
        env = dict(os.environ, LD_PRELOAD="",
                   ASAN_OPTIONS="detect_leaks=1:abort_on_error=1")
        out = subprocess.run([sys.executable, "-c", boot, script],
                             capture_output=True, text=True, env=env,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.splitlines()[0])


def test_children_no_leaks_turns_leak_detection_off_for_children_only():
    got = boot_child_env(True, keep=True)
    assert got["ASAN_OPTIONS"] == "abort_on_error=1:detect_leaks=0"
    assert got["LD_PRELOAD"] == ""          # kept (the runner sets it)
    got = boot_child_env(False)
    assert got["ASAN_OPTIONS"] == "detect_leaks=1:abort_on_error=1"
    assert got["LD_PRELOAD"] is None        # removed without --keep-preload
