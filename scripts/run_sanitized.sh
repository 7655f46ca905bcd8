#!/usr/bin/env bash
# Build fastconv with AddressSanitizer + UndefinedBehaviorSanitizer and run
# the test suite under them.
#
#   bash scripts/run_sanitized.sh [pytest arguments...]
#
# The C core and the Cython modules are compiled with
# FASTCONV_SANITIZE=address,undefined (see setup.py); the ASan runtime is
# preloaded because the Python interpreter itself is not instrumented.
# Leak detection is on, with CPython's own allocations (interned strings,
# module state kept until exit) suppressed; a UBSan report aborts the run.
# PyTorch is left out of this environment: its wheel does not load under a
# preloaded ASan runtime, and the NumPy references cover every function.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${FASTCONV_SANITIZE_WORK:-$(mktemp -d)}"
PY="${PYTHON:-python3}"

"$PY" -m venv "$WORK/venv"
V="$WORK/venv/bin/python"
"$V" -m pip install -q --upgrade pip
"$V" -m pip install -q "setuptools>=77" wheel "Cython>=3" "numpy>=2" pytest hypothesis scipy threadpoolctl
FASTCONV_SANITIZE=address,undefined "$V" -m pip install -q --no-build-isolation "$ROOT"

ASAN_LIB="$(gcc -print-file-name=libasan.so)"
cat > "$WORK/lsan.supp" <<'SUPP'
# allocations owned by the interpreter and extension-module import machinery
leak:_PyObject_Malloc
leak:_PyObject_Realloc
leak:PyObject_Malloc
leak:PyMem_Malloc
leak:PyMem_RawMalloc
leak:PyMem_RawRealloc
leak:_PyMem_RawMalloc
leak:_PyMem_RawRealloc
leak:_PyBytes_Resize
leak:PyUnicode_New
leak:_dl_open
leak:_dl_catch_exception
leak:libpython
leak:python3
SUPP

cd "$WORK"
cp -r "$ROOT/tests" "$WORK/tests"
export LD_PRELOAD="$ASAN_LIB"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=0:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$WORK/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
export PYTHONMALLOC=malloc
"$V" -m pytest -q -p no:cacheprovider "$WORK/tests" "$@"
echo "sanitized test run passed"
