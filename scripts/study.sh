#!/usr/bin/env bash
# The whole study on a fresh machine: set up, run every chapter on a profile, build the book.
# Usage: scripts/study.sh [nap study options, e.g. --profile tiny]
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
"${NAP_VENV:-.venv}/bin/nap" study "$@"
echo "[study] finished in $(( $(date +%s) - start )) s (set-up included); open _build/html/index.html"
