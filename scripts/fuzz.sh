#!/usr/bin/env bash
# Fuzz every public compute function against the NumPy references with many
# more examples than CI runs, freshly drawn on each run:
#
#   bash scripts/fuzz.sh [N] [pytest arguments...]     # N examples per test, default 5000
#
# CI runs tests/test_fuzz.py with FASTCONV_FUZZ_EXAMPLES=300, derandomised
# (the same examples every time).  A failure prints the smallest failing
# example and a @reproduce_failure blob to replay it; failing examples are
# also kept in .hypothesis/ and tried first on the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-5000}"
[[ $# -gt 0 ]] && shift
FASTCONV_FUZZ_EXAMPLES="$N" FASTCONV_FUZZ_PROFILE=dev exec python -m pytest -q -p no:cacheprovider tests/test_fuzz.py "$@"
