"""The AVX-512 GEMM kernels, checked on any x86-64 machine.

Most CI machines here lack AVX-512, so the real kernels cannot run.  This test
compiles the AVX-512 kernel sources against tests/c/avx512_emul.h (a scalar
stand-in for the handful of intrinsics they use, with alignment checks),
links them with the real GEMM driver (cpu.c told to assume AVX-512), and runs
tests/c/gemm_isa_check.c: many shapes, transposes, alpha/beta and block-size
edges against a naive double-precision product.  It checks the kernels'
indexing, tile shape and the driver's 12x32 / 12x16 blocking; the intrinsics'
own semantics are the CPU vendor's.  On a machine with AVX-512 the real
kernels are also exercised by every other test through the `isa` fixture.
"""
import os
import platform
import shutil
import subprocess
import sysconfig

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src_c")
HERE = os.path.join(ROOT, "tests", "c")

pytestmark = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64") or not os.path.isdir(SRC),
    reason="needs the x86-64 source tree",
)


def _cc():
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) or shutil.which("gcc") or shutil.which("cc")


def _sources(pattern_ok):
    out = []
    for dirpath, _, files in os.walk(SRC):
        for f in sorted(files):
            if f.endswith(".c") and pattern_ok(f):
                out.append(os.path.join(dirpath, f))
    return out


@pytest.fixture(scope="module")
def checker(tmp_path_factory):
    cc = _cc()
    if cc is None:
        pytest.skip("no C compiler")
    tmp = tmp_path_factory.mktemp("avx512emul")
    objs = []

    def compile_one(src, flags):
        obj = str(tmp / (os.path.basename(src) + ".o"))
        subprocess.run([cc, "-O1", "-c", src, "-o", obj, "-I", SRC] + flags, check=True,
                       capture_output=True, text=True)
        objs.append(obj)

    emul = ["-include", os.path.join(HERE, "avx512_emul.h")]
    for src in _sources(lambda f: "gemm" in f and "_avx512" in f or f == "peak_avx512.c"):
        compile_one(src, emul)
    for src in _sources(lambda f: ("gemm" in f or f.startswith("peak")) and "_avx2" in f):
        compile_one(src, ["-mavx2", "-mfma"])
    base = [os.path.join(SRC, f) for f in ("cpu.c", "gemm.c")] + [
        os.path.join(SRC, "kernels", f) for f in ("gemm_ref.c", "peak_ref.c")
    ]
    exe = str(tmp / "gemm_isa_check")
    cmd = [cc, "-O1", "-DFC_HAVE_X86_KERNELS", "-DFC_TESTING_ASSUME_ISA=2", "-I", SRC,
           os.path.join(HERE, "gemm_isa_check.c")] + base + objs + ["-lm", "-o", exe]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"building the emulated AVX-512 checker failed:\n{r.stderr}")
    return exe


def test_avx512_kernels_emulated(checker):
    r = subprocess.run([checker, "2"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    fields = dict(kv.split("=") for kv in r.stdout.split())
    assert fields["isa"] == "avx512"
    assert (fields["mr"], fields["nr"]) == ("12", "32")
    # errors are normalised by (k + 2) * eps * sum|a_ik b_kj|: below 1 means
    # within the rounding bound of a length-k dot product
    assert float(fields["worst_float"]) < 1.0, r.stdout
    assert float(fields["worst_double"]) < 1.0, r.stdout
