#!/usr/bin/env bash
# Measure nap at the paper's widths on one CUDA GPU (issue 20), in about three minutes. Run from
# the repository root on a machine whose python3 has a CUDA torch and torchaudio, with the wheels
# of benchmarks/gpu/wheels.sh in .whl/. Writes JSON and the GPU's name into $OUT.
#   1. the training loop against the raw model step, 256/2048, batch 16 x 11-14 s (the loop's share)
#   2. the same at torchaudio's 250/2000, with torchaudio's Wav2Letter on the same batches
#   3. NAP extraction against one inference pass, and GPU NAPs against CPU NAPs (TF32 off)
set -u
export PYTHONUNBUFFERED=1 OUT="${OUT:-/tmp/gpu-out}"
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH="/tmp/site:$PWD"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.csv"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/gpu.csv"
echo "== 1. training loop against the raw step, 256/2048"
timeout 200 python3 benchmarks/bench_asr_throughput.py --device cuda --channels 256 --hidden 2048 \
  --batch-size 16 --frames 1100 1400 --steps 60 --rounds 2 --sides nap raw --out "$OUT/asr_256_2048.json"
echo "== 2. against torchaudio's Wav2Letter, 250/2000"
timeout 150 python3 benchmarks/bench_asr_throughput.py --device cuda --channels 250 --hidden 2000 \
  --batch-size 16 --frames 1100 1400 --steps 40 --rounds 1 --out "$OUT/asr_250_2000.json"
echo "== 3. NAP extraction against inference, GPU against CPU"
timeout 200 python3 benchmarks/bench_naps.py --device cuda --channels 256 --hidden 2048 --utterances 96 \
  --reference-utterances 4 --skip-rss --json "$OUT/naps.json"
