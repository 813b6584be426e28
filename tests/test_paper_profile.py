"""The ``paper`` profile against a LibriSpeech-shaped tree: configuration, reader, features,
the paper-size network, a few training steps at reduced widths, and the whole path at tiny
sizes: every chapter through papermill and the book built (:data:`QUICK`).

The tree holds the profile's own subsets (``train-clean-100``, ``train-clean-360``,
``train-other-500``, ``test-clean``) with a few short FLAC files each (tones and noise: the
code path, not recognition, is under test). In the first tests everything but the network
widths (and the CPU thread count and checkpoint interval of the short training run) is the
profile's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from nap.profile import Profile
from nap.study import Study

ROOT = Path(__file__).resolve().parents[1]
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
    assert f"({study.params('asr').epochs} in `nap/profiles/paper.yaml`)" in page


# -- the paper profile end to end: every chapter and the book ------------------------------------
#: The paper profile's changes that make it run in about a minute: narrow networks, two epochs, a
#: G2P of a few hundred words, small samples. The under-trained recognizer's beam search writes
#: nothing, so the labels come from greedy decoding (the letters its frames predict).
QUICK = {
    "corpus": {"librispeech_heldout": 0.25},  # 3 of the 12 training utterances as test_sentences
    "asr": {"channels": 16, "hidden": 32, "epochs": 2, "batch_size": 4, "warmup_steps": 2,
            "eval_utterances": 2, "beam_size": 5, "threads": 1},
    "g2p": {"max_words": 300, "epochs": 1, "members": 1, "workers": 1, "threads": 1, "embedding": 8,
            "encoder_hidden": 16, "decoder_hidden": 16, "batch_size": 32, "warmup_steps": 2, "beam": 2},
    "align": {"decoder": "greedy", "min_count": 1},
    "naps": {"min_count": 1, "probe_frames": 500},
    "cluster": {"permutations": 50, "probe_max_iter": 50},
}  # fmt: skip


def quick_profile(path: Path, root: Path, **corpus: Any) -> Path:
    """A profile file ``base: paper`` with :data:`QUICK`'s changes and the tree at ``root``."""
    params = {**QUICK, "corpus": {**QUICK["corpus"], "librispeech_root": str(root), **corpus}}
    path.write_text(yaml.safe_dump({"base": "paper", "params": params}))
    return path


def fresh_site(dest: Path) -> Path:
    """A copy of the project's book sources without executed chapters (as conftest's tiny_site)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "book", dest / "book", ignore=shutil.ignore_patterns("*.ipynb", ".runner"))
    (dest / "nap").mkdir()  # marks the copy as a project root for nap.study.project_root
    return dest


@pytest.fixture(scope="module")
def paper_book(tmp_path_factory) -> tuple[Study, Path, list[dict[str, Any]], float]:
    """The quick paper profile on a LibriSpeech-shaped tree: every chapter through papermill, the
    book built strictly; (study, site, chapter report, seconds)."""
    from nap.runner import build_book, run_chapters

    start = time.time()
    base = tmp_path_factory.mktemp("paper-book")
    librispeech_tree(base / "LibriSpeech")
    profile = quick_profile(base / "librispeech.yaml", base / "LibriSpeech")
    study = Study(profile, artifacts=base / "artifacts")
    site = fresh_site(base / "site")
    report = run_chapters(study, root=ROOT, book_dir=site / "book")
    build_book(site, strict=True)
    return study, site, report, time.time() - start


def _outputs(notebook: Path) -> list[str]:
    """Every code cell's text output (streams, results as Markdown or plain text), one string per cell."""
    nb = json.loads(notebook.read_text())
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        text = []
        for out in cell["outputs"]:
            assert out["output_type"] != "error", "".join(out.get("traceback", []))
            text.append("".join(out.get("text", "")))
            data = out.get("data", {})
            text.append("".join(data.get("text/markdown", data.get("text/plain", ""))))
        cells.append("".join(text))
    return cells


def test_every_chapter_runs_and_the_book_builds(paper_book):
    study, site, report, seconds = paper_book
    chapters = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(r["chapter"] for r in report) == chapters and not any(r["skipped"] for r in report)
    html = site / "_build" / "html"
    for stem in chapters:
        assert (html / "book" / f"{stem}.html").is_file(), stem
    assert "00_introduction" in (html / "index.html").read_text()
    assert study.summary("corpus")["source"] == "librispeech"
    assert seconds < 600, f"the quick paper profile took {seconds:.0f} s"


def test_chapter_4_reports_what_needs_true_timings_as_absent(paper_book):
    """LibriSpeech has no phone timings: accuracy, confusion, timing and phoneme_true say so."""
    from nap.align.report import NO_TIMINGS

    study, site, _, _ = paper_book
    summary = study.summary("align")
    assert summary["true_timings"] is False and "eval_split" not in summary
    text = "\n".join(_outputs(site / "book" / "04_alignment.ipynb"))
    for what in (
        "whether its frames get their true phone",
        "the accuracy of the paper's cascade (no delay)",
        "The accuracy against the true phones",
        "The accuracy of the cascade's phonemes against the true phones",
        "The confusion matrix",
        "The accuracy per true phone",
        "The accuracy against the time at which the truth is read",
        "The timing curve",
        "phoneme_true: this grouping",
    ):
        assert f"{what} is absent: {NO_TIMINGS}." in text, what
    page = (site / "_build" / "html" / "book" / "04_alignment.html").read_text()
    assert page.count("is absent: the corpus has no true phone timings") >= 9


def test_no_held_out_utterances_give_no_score_anywhere(tmp_path):
    """``librispeech_test: []`` and ``librispeech_heldout: 0`` leave nothing to score: the summary,
    ``nap results`` and chapter 2 say so, and no CER or WER of 0 appears."""
    from nap.asr.evaluate import NO_HELD_OUT
    from nap.cli import main
    from nap.runner import run_chapters

    librispeech_tree(tmp_path / "LibriSpeech")
    profile = quick_profile(
        tmp_path / "mine.yaml", tmp_path / "LibriSpeech", librispeech_test=[], librispeech_heldout=0.0
    )
    args = ["--profile", str(profile), "--artifacts", str(tmp_path / "artifacts")]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["build", "asr", *args]) == 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["results", *args]) == 0
    shown = out.getvalue()
    for rate in ("cer", "wer"):
        assert re.search(rf"^asr\s+{rate}\s+None\s*$", shown, re.M), rate
    assert re.search(rf"^asr\s+not_scored\s+test_sentences, test_voices: {NO_HELD_OUT}\s*$", shown, re.M)
    assert not re.search(r"_(cer|wer)\s+0\.0", shown)

    study = Study(profile, artifacts=tmp_path / "artifacts")
    site = fresh_site(tmp_path)
    run_chapters(study, select=["02"], root=ROOT, book_dir=site / "book")
    text = "\n".join(_outputs(site / "book" / "02_asr.ipynb"))
    assert (
        f"beam search: no score on held-out sentences of seen voices ({NO_HELD_OUT}); "
        f"no score on held-out voices ({NO_HELD_OUT})"
    ) in text
    assert text.count(f"{NO_HELD_OUT}  {NO_HELD_OUT}") == 4  # CER and WER of the results table's four rows
