"""The ``paper`` profile against a LibriSpeech-shaped tree: configuration, reader, features,
the paper-size network, and a few training steps at reduced widths.

The tree holds the profile's own subsets (``train-clean-100``, ``train-clean-360``,
``train-other-500``, ``test-clean``) with a few short FLAC files each (tones and noise: the
code path, not recognition, is under test). Everything but the network widths (and the CPU
thread count and checkpoint interval of the short training run) is the profile's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from nap.profile import Profile
from nap.study import Study

SUBSETS = {
    "train-clean-100": ("103", "1240"),
    "train-clean-360": ("100", "121669"),
    "train-other-500": ("20", "205"),
    "test-clean": ("1089", "134686"),
}
WORDS = "she had your dark suit in greasy wash water all year".split()


def _audio(seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    tone = 0.2 * np.sin(2 * np.pi * rng.uniform(120, 300) * t * (1 + 0.2 * t))
    return (tone + 0.02 * rng.normal(size=t.size)).astype(np.float32)


def librispeech_tree(root: Path, per_chapter: int = 4) -> dict[str, list[str]]:
    """``root/<subset>/<speaker>/<chapter>/`` as LibriSpeech has it; subset -> utterance ids."""
    rng = np.random.default_rng(0)
    ids: dict[str, list[str]] = {}
    for subset, (speaker, chapter) in SUBSETS.items():
        folder = root / subset / speaker / chapter
        folder.mkdir(parents=True)
        lines = []
        for i in range(per_chapter):
            uid = f"{speaker}-{chapter}-{i:04d}"
            sf.write(folder / f"{uid}.flac", _audio(1.0 + 0.4 * i, rng), 16000, subtype="PCM_16")
            lines.append(f"{uid} {' '.join(rng.choice(WORDS, size=3 + i)).upper()}")
            ids.setdefault(subset, []).append(uid)
        (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    return ids


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path, dict[str, list[str]]]:
    base = tmp_path_factory.mktemp("paper")
    ids = librispeech_tree(base / "LibriSpeech")
    profile = base / "librispeech.yaml"
    profile.write_text(f"base: paper\nparams:\n  corpus:\n    librispeech_root: {base / 'LibriSpeech'}\n")
    return base, profile, ids


@pytest.fixture(scope="module")
def study(setup) -> Study:
    base, profile, _ = setup
    return Study(profile, artifacts=base / "artifacts")


def test_configuration_is_the_papers(setup):
    _, profile, _ = setup
    p = Profile.load(profile)
    assert p.name == "librispeech"
    assert p["corpus"].source == "librispeech"
    assert p["corpus"].librispeech_train == ["train-clean-100", "train-clean-360", "train-other-500"]
    assert p["corpus"].librispeech_test == ["test-clean"]
    assert (p["asr"].channels, p["asr"].hidden, p["asr"].k7_layers) == (256, 2048, 7)
    assert p["features"].n_mels == 128 and p["features"].hop_ms == 10.0
    assert p["asr"].repetitions == 2  # Collobert's repetition symbols, as in the paper
    assert p["cluster"].percentile == 80.0 and p["cluster"].linkage == "complete"


def test_reader_indexes_every_subset(study, setup):
    _, _, ids = setup
    corpus = study.corpus()
    assert corpus.source == "librispeech"
    splits = corpus.splits
    assert sorted(u.id for u in splits["test_voices"]) == ids["test-clean"]
    train_ids = sorted(u.id for s in ("train", "test_sentences") for u in splits[s])
    assert train_ids == sorted(ids["train-clean-100"] + ids["train-clean-360"] + ids["train-other-500"])
    assert study.summary("corpus")["bad_input_skipped"] == 0
    u = splits["test_voices"][0]
    assert u.path.is_file() and u.path.suffix == ".flac" and u.text == u.text.lower()


def test_features_are_computed(study):
    feats = study.features()
    corpus = study.corpus()
    for u in corpus.utterances:
        x = feats.get(u.id)
        assert x.shape[1] == 128 and abs(x.shape[0] - round(u.seconds * 100)) <= 2
        assert np.isfinite(x).all()


def test_paper_size_network_runs_on_an_utterance(study):
    """The paper-size Wav2Letter: 25.8 M parameters, receptive field 194, one forward pass."""
    from nap.asr.model import Wav2Letter
    from nap.asr.stage import architecture

    torch.set_num_threads(1)
    model = Wav2Letter(architecture(study.params("asr"), 128)).eval()
    assert model.receptive_field == 194 and model.stride == 2
    assert sum(w.numel() for w in model.parameters()) == pytest.approx(25.8e6, rel=0.01)
    x = study.features().get(study.corpus().splits["test_voices"][-1].id)
    with torch.inference_mode():
        out = model(torch.from_numpy(x).T[None])
    assert out.shape == (1, 31, model.output_frames(x.shape[0]))


def test_a_few_training_steps_at_reduced_widths(study, tmp_path):
    from nap.asr.stage import prepare_all
    from nap.asr.train import CHECKPOINT, load_checkpoint, train

    paper = study.params("asr")
    p = paper.replace(channels=16, hidden=32, threads=1, checkpoint_every=1)
    changed = {k for k, v in p.to_dict().items() if paper.to_dict()[k] != v}
    assert changed == {"channels", "hidden", "threads", "checkpoint_every"}
    arch, train_set, evals = prepare_all(p, study.corpus(), study.features())
    assert dataclasses.asdict(arch)["n_mels"] == 128 and len(train_set.items) >= 8
    assert not train_set.skipped
    assert train(tmp_path, p, arch, train_set, evals, progress=False, stop_after=3) == {"stopped_at": 3}
    ckpt = load_checkpoint(tmp_path / CHECKPOINT)
    assert ckpt["step"] == 3
    loss = ckpt["history"]["loss"]
    assert len(loss) == 3 and np.isfinite(loss).all()


def test_cost_estimate_of_the_book(study):
    """book/paper_profile.md: 1.3 G multiply-adds per second of audio, 65 % in the kernel-32 layer."""
    from nap.asr.model import Wav2Letter
    from nap.asr.stage import architecture

    model = Wav2Letter(architecture(study.params("asr"), 128)).eval()
    torch.set_num_threads(1)

    def macs(outputs: int) -> dict[int, int]:
        """Multiply-adds of each convolution (by kernel size) for ``outputs`` output frames."""
        counts: dict[int, int] = {}

        def count(module, inputs, output):
            n = output.shape[-1] * module.out_channels * module.in_channels * module.kernel_size[0]
            counts[id(module)] = n

        hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, torch.nn.Conv1d)]
        with torch.inference_mode():
            model(torch.zeros(1, 128, model.receptive_field + model.stride * (outputs - 1)))
        for h in hooks:
            h.remove()
        return counts

    a, b = macs(10), macs(20)
    per_frame = {k: (b[k] - a[k]) / 10 for k in a}  # each output frame adds this much work
    per_second = sum(per_frame.values()) * 100 / model.stride  # 100 input frames per second
    assert per_second == pytest.approx(1.29e9, rel=0.01)
    k32 = [m for m in model.modules() if isinstance(m, torch.nn.Conv1d) and m.kernel_size[0] == 32]
    assert per_frame[id(k32[0])] / sum(per_frame.values()) == pytest.approx(0.65, abs=0.01)
    page = (Path(__file__).resolve().parents[1] / "book" / "paper_profile.md").read_text()
    page = " ".join(page.split())
    assert "about 1.3 G multiply-adds per second of audio" in page and "kernel-32 layer is 65 %" in page
