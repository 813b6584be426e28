"""The one resampler and the command lines' shared parameter options."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from nap.corpus.audio import resample


def test_resample_is_the_polyphase_filter_the_embedded_corpus_was_made_with():
    """espeak-ng's 22,050 Hz int16 output went through resample_poly(float32, 320, 441): still bit for bit."""
    audio = np.random.default_rng(0).integers(-20000, 20000, 22050, dtype=np.int16)
    before = resample_poly(audio.astype(np.float32), 16000 // 50, 22050 // 50)
    after = resample(audio, 22050, 16000)
    assert after.dtype == np.float32 and len(after) == 16000
    assert np.array_equal(after, before)


def test_resample_keeps_float32_and_the_rate_ratio():
    x = np.sin(np.linspace(0, 200, 8000)).astype(np.float32)
    up = resample(x, 8000, 16000)
    assert up.dtype == np.float32 and len(up) == 16000
    assert np.allclose(up[::2][100:-100], x[100:-100], atol=1e-3)  # the original samples come back
    assert np.array_equal(resample(x, 16000, 16000), x)


@pytest.mark.parametrize("module", ["nap.cli", "nap.asr.__main__", "nap.naps.__main__"])
def test_every_command_line_takes_the_same_parameter_options(module, capsys):
    import importlib

    main = importlib.import_module(module).main
    args = ["params", "--help"] if module == "nap.cli" else ["--help"]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    assert "-p NAME VALUE, --param NAME VALUE" in usage and "--params FILE.yaml" in usage
