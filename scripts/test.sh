#!/usr/bin/env bash
# The test suite on a fresh machine: set up (with test tools and Chromium), ruff, then pytest.
# Usage: scripts/test.sh [pytest options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
venv="${NAP_VENV:-.venv}"
# Lint and formatting first: seconds, and they name the file and line.
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
export NAP_ARTIFACTS="${NAP_ARTIFACTS:-$PWD/artifacts/tests}"
exec "$venv/bin/python" -m pytest "$@"
