#!/usr/bin/env bash
# Build fastconv with AddressSanitizer + UndefinedBehaviorSanitizer and run
# tests under them.
#
#   bash scripts/run_sanitized.sh [pytest arguments...]        # the whole suite
#   bash scripts/run_sanitized.sh --ci [pytest arguments...]   # the CI subset below
#
# The C core and the Cython modules are compiled with
# FASTCONV_SANITIZE=address,undefined (see setup.py) in a clean copy of the
# source tree (the developer's ./build and in-place modules are left alone);
# the ASan runtime is preloaded because the Python interpreter itself is not
# instrumented. Leak detection is on, with CPython's own allocations
# (interned strings, module state kept until exit) suppressed. Every report,
# from pytest or any child process it starts, is written to a log file; the
# run fails if the tests fail, if a sanitizer aborts a process, or if any
# log file holds an error report.
# PyTorch is left out of this environment: its wheel does not load under a
# preloaded ASan runtime, and the NumPy references cover every function.
#
# FASTCONV_SANITIZE_WORK=DIR keeps the environment in DIR; an existing
# DIR/venv is reused, so a second run rebuilds only what changed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${FASTCONV_SANITIZE_WORK:-$(mktemp -d)}"
PY="${PYTHON:-python3}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

# The CI subset: small shapes reaching every C kernel family in a few minutes.
#   robustness: every public compute function (OPS) at 1-4 threads, read-only
#               inputs, 8 Python threads, impossible sizes
#   fuzz:       every public function against the NumPy references on random
#               shapes, strides, dtypes and limit arguments (few examples)
#   edge cases: zero-size dimensions, out= overlapping inputs, NaN and inf
#   gemm:       every ISA level, any strides, overlapping out=, empty operands
#   conv:       every ISA level, direct/im2col/indirect/depthwise/winograd,
#               transposed, backward, im2col/col2im
#   pool:       max/avg/adaptive/global/stochastic, 1-D, backward, unpooling,
#               NaN/inf, views, out=, the aligned-block 3x3/1 averages and
#               the NHWC 3-wide stride-2 max at any input/output offset
#   signal:     1-D and 2-D, direct and FFT, integer and complex, every ISA
#   local:      local/tiled forward and backward (every ISA), linear
CI_SUBSET=(
    tests/test_robustness.py -k
    "not child_processes and not pytorch and not repeated_calls and not threadpoolctl"
)
CI_FILES=(
    "tests/test_fuzz.py tests/test_edge_cases.py"
    "tests/test_gemm.py::test_matches_numpy tests/test_gemm.py::test_any_strides tests/test_gemm.py::test_out_with_strides_and_overlap tests/test_gemm.py::test_empty_operands"
    "tests/test_conv.py -k conv2d_every_isa or winograd_matches_reference or conv2d_special_shapes or transpose2d_matches_reference or conv2d_backward_matches_reference or im2col_col2im_match_reference or conv1d_matches_reference"
    "tests/test_pool.py -k max_pool2d or avg_pool2d or pool1d or adaptive or global or stochastic_values or unpool2d or non_contiguous or out_argument or avg_3x3_stride1_planes or nhwc_max_3wide"
    "tests/test_signal.py -k 1d_matches_reference or 2d_matches_reference or wraparound or fft_matches_direct or isa_levels or nonfinite"
    "tests/test_local.py -k forward_matches_reference or every_isa or linear_matches_reference or backward_matches_reference or larger_shapes or empty_shapes"
)

CI=0
if [[ "${1:-}" == "--ci" ]]; then
    CI=1
    shift
fi

START=$SECONDS
if [[ ! -x "$WORK/venv/bin/python" ]]; then
    "$PY" -m venv "$WORK/venv"
    "$WORK/venv/bin/python" -m pip install -q --upgrade pip
    "$WORK/venv/bin/python" -m pip install -q "setuptools>=77" wheel "Cython>=3" "numpy>=2" pytest hypothesis \
        scipy threadpoolctl
fi
V="$WORK/venv/bin/python"

# A clean copy of the sources: tracked and new files, no build outputs; the
# Cython-generated C is taken along when present (cythonize regenerates any
# that is older than its .pyx).  Built in place, extensions in parallel,
# and imported from there (PYTHONPATH).
mkdir -p "$WORK/src"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) \
        | (cd "$ROOT" && xargs -0 cp --parents -p -t "$WORK/src" 2>/dev/null || true)
else
    cp -rp "$ROOT/." "$WORK/src"
    rm -rf "$WORK/src/build" "$WORK/src"/fastconv/*.so
fi
cp -p "$ROOT"/fastconv/_*.c "$WORK/src/fastconv/" 2>/dev/null || true
JOBS="${FASTCONV_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"
(cd "$WORK/src" && FASTCONV_SANITIZE=address,undefined "$V" setup.py -q build_ext --inplace -j "$JOBS" >"$WORK/build.log" 2>&1) \
    || { tail -50 "$WORK/build.log" >&2; exit 1; }
export PYTHONPATH="$WORK/src${PYTHONPATH:+:$PYTHONPATH}"
echo "sanitized build: $((SECONDS - START)) s"

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
rm -rf "$WORK/tests" "$WORK/reports"
cp -r "$ROOT/tests" "$WORK/tests"
mkdir -p "$WORK/reports"
ASAN_BASE="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=0:allocator_may_return_null=1"
export LSAN_OPTIONS="suppressions=$WORK/lsan.supp:print_suppressions=0"  # read by the ASan runtime only
UBSAN_BASE="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
export PYTHONMALLOC=malloc

# A report is an ASan/LSan "ERROR:" or a UBSan "runtime error:"; the log
# files also hold harmless warnings (allocator_may_return_null=1 notes each
# impossible allocation the size tests ask for).
REPORT='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:'

# One pytest run with its own report folder.  LeakSanitizer's exit-time scan
# itself crashes now and then under load ("LeakSanitizer has encountered a
# fatal error", a tool failure, not a finding): such a run, with no report,
# is repeated once.
RUNS=0
run_pytest() {
    local attempt rc dir
    for attempt in 1 2; do
        RUNS=$((RUNS + 1))
        dir="$WORK/reports/$RUNS"
        mkdir -p "$dir"
        rc=0
        # the runtime is preloaded into Python (and the processes it starts) only
        LD_PRELOAD="$ASAN_LIB" ASAN_OPTIONS="$ASAN_BASE:log_path=$dir/asan" \
            UBSAN_OPTIONS="$UBSAN_BASE:log_path=$dir/ubsan" \
            "$V" -m pytest -q -p no:cacheprovider "$@" || rc=$?
        if [[ $rc != 0 && $attempt == 1 ]] && ! grep -qsE "$REPORT" "$dir"/* \
                && grep -qs "LeakSanitizer has encountered a fatal error" "$dir"/*; then
            echo "LeakSanitizer's own scan crashed (no report): running these tests again" >&2
            continue
        fi
        return "$rc"
    done
}

status=0
if [[ $CI == 1 ]]; then
    export FASTCONV_FUZZ_EXAMPLES="${FASTCONV_FUZZ_EXAMPLES:-8}"
    export FASTCONV_FUZZ_PROFILE=ci
    run_pytest "${CI_SUBSET[@]}" "$@" || status=$?
    for entry in "${CI_FILES[@]}"; do
        if [[ "$entry" == *" -k "* ]]; then
            run_pytest "${entry%% -k *}" -k "${entry#* -k }" "$@" || status=$?
        else
            # shellcheck disable=SC2086
            run_pytest $entry "$@" || status=$?
        fi
    done
else
    run_pytest "$WORK/tests" "$@" || status=$?
fi

# every report of every run (a retried run's tool crash has none)
while IFS= read -r f; do
    echo "==== sanitizer report $f" >&2
    head -c 20000 "$f" >&2
    status=1
done < <(grep -rlE "$REPORT" "$WORK/reports" || true)
echo "sanitized run: $((SECONDS - START)) s in all"
if [[ $status != 0 ]]; then
    echo "sanitized test run FAILED" >&2
    exit "$status"
fi
echo "sanitized test run passed"
