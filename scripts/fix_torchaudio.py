"""Make ``import torchaudio`` work with the CPU build of torch.

torchaudio 2.11.0's PyPI wheel ships compiled extensions linked against CUDA
(``libc10_cuda.so``), so with a CPU-only torch its import fails. Its Python parts
(``MelSpectrogram``, ``resample``, the flashlight-text ``ctc_decoder``) do not need them:
this removes ``torchaudio/lib/*.so`` (only when they cannot be loaded) and checks the import.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path


def main() -> int:
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or spec.origin is None:
        print("torchaudio is not installed", file=sys.stderr)
        return 1
    check = [sys.executable, "-c", "import torchaudio"]
    if subprocess.run(check, capture_output=True).returncode == 0:
        return 0
    lib = Path(spec.origin).parent / "lib"
    for so in lib.glob("*.so"):
        so.unlink()
    result = subprocess.run(check, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return 1
    print(f"[setup] removed torchaudio's CUDA-linked extensions from {lib}; `import torchaudio` works")
    return 0


if __name__ == "__main__":
    sys.exit(main())
