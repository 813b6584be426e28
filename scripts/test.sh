#!/usr/bin/env bash
# The test suite on a fresh machine: set up (with test tools and Chromium), then pytest.
# Usage: scripts/test.sh [pytest options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export NAP_ARTIFACTS="${NAP_ARTIFACTS:-$PWD/artifacts/tests}"
exec "${NAP_VENV:-.venv}/bin/python" -m pytest "$@"
