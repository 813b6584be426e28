#!/usr/bin/env bash
# Set up everything the study and the tests need, idempotently:
#   system packages (flite, fortunes, real-speech recordings; with --test also chromium + chromium-driver),
#   a virtual environment in .venv with torch==2.13.0 (CPU), torchaudio (Python parts only)
#   and the nap package (editable) with its dependencies.
# Usage: scripts/setup.sh [--test]      (NAP_VENV=DIR to use another environment folder)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1
venv="${NAP_VENV:-.venv}"

# -- system packages --------------------------------------------------------------------
apt_pkgs=(flite fortunes festival festvox-kallpc16k)
# real human speech: Asterisk's prompts with their transcripts, pocketsphinx's test clips
apt_pkgs+=(asterisk-core-sounds-en-wav asterisk-core-sounds-en pocketsphinx-testdata)
command -v npm >/dev/null || apt_pkgs+=(npm)
[ $want_test = 1 ] && apt_pkgs+=(chromium chromium-driver)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "[setup] missing system packages: ${missing[*]}" >&2
    echo "[setup] install them first, e.g.: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# -- Python environment -----------------------------------------------------------------
py="${PYTHON:-python3}"
"$py" -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is needed"'
stamp_src="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)-$want_test"
if [ -f "$venv/.nap-setup" ] && [ "$(cat "$venv/.nap-setup")" = "$stamp_src" ]; then
  exit 0
fi
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
echo "[setup] installing Python packages into $venv (torch 2.13.0 CPU build)"
# torch first and pinned, so nothing pulls the CUDA build.
"${pip[@]}" "torch==2.13.0"
# torchaudio declares no dependency on torch; its wheel's compiled parts are CUDA-linked.
"${pip[@]}" --no-deps "torchaudio==2.11.0"
"$venv/bin/python" scripts/fix_torchaudio.py
extras="[speech]"
[ $want_test = 1 ] && extras="[speech,test]"
"${pip[@]}" -e ".$extras"
"$venv/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
# The website serves the widget JavaScript and MathJax itself: fetch them from npm now
# (pinned versions, checked against SHA-256 sums) so that book builds are offline.
"$venv/bin/python" -m nap.website install
echo "$stamp_src" > "$venv/.nap-setup"
echo "[setup] done"
