"""The errors users see: one :class:`NapError` base, and what the ``nap`` command does with it.

Every exception class of the package derives from NapError (the few internal ones are listed
with their reason) and keeps the builtin base its callers catch. The command line prints a
NapError as one line, exit status 2 for parameters and profiles and 1 otherwise, and shows the
traceback of anything else (a bug), whatever its class is called.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from nap.errors import NapError

ROOT = Path(__file__).resolve().parents[1]

#: Exception classes of the package that never reach a user, with the reason.
INTERNAL = {
    "_Stop": "control flow: raised in the deepest forward hook, caught in the same method",
}

#: The builtin base each user error keeps: an ``except ValueError`` (or RuntimeError) still catches it.
BUILTIN_BASE = {
    ValueError: [
        "ParamError",
        "PhoneError",
        "VocabError",
        "ArchitectureError",
        "G2PInputError",
        "LabelError",
        "GeometryError",
    ],
    RuntimeError: [
        "EspeakError",
        "LibriSpeechError",
        "BadInputError",
        "TextError",
        "SynthError",
        "FliteError",
        "TrainingError",
        "G2PTrainingError",
        "ScheduleError",
        "RunnerError",
        "FeatureError",
        "WidgetJsError",
        "StoreError",
        "DiskFullError",
        "MissingPackageError",
        "PiperError",
        "RealCorpusError",
        "AlignerError",
    ],
}


def exception_classes() -> dict[str, type]:
    """Every class defined at the top of a module of ``nap/`` that is an exception, by name.

    Candidates are found in the source (a class whose name or a base's name ends in ``Error`` or
    ``Exception``), then imported to check that they are exceptions.
    """
    found = {}
    for path in sorted((ROOT / "nap").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.ClassDef):
                continue
            names = [node.name] + [ast.unparse(b) for b in node.bases]
            if any(n.endswith(("Error", "Exception")) for n in names):
                cls = getattr(importlib.import_module(module), node.name)
                if issubclass(cls, BaseException):
                    assert node.name not in found, f"two exception classes named {node.name}"
                    found[node.name] = cls
    return found


def test_every_exception_class_of_nap_is_a_naperror_or_listed_as_internal():
    found = exception_classes()
    import nap

    assert nap.NapError is NapError  # what a chapter catches
    assert len(found) >= 22  # the scan sees the package's classes
    assert set(INTERNAL) <= set(found), "an internal class listed here no longer exists"
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, NapError))
    assert outside == sorted(INTERNAL), "derive these from nap.errors.NapError (or list them as internal)"


def test_user_errors_keep_the_builtin_base_their_callers_catch():
    found = exception_classes()
    listed = {name: base for base, names in BUILTIN_BASE.items() for name in names}
    users = [n for n, cls in found.items() if issubclass(cls, NapError) and cls is not NapError]
    assert sorted(listed) == sorted(users)
    for name, base in listed.items():
        assert issubclass(found[name], base), name
    from nap.params import ParamError

    with pytest.raises(ValueError, match="asr.x"):  # an `except ValueError` still catches it
        raise ParamError("parameter 'asr.x' is bad")


# -- the command line --------------------------------------------------------------------------
def _raising(exc: BaseException):
    def cmd(args) -> int:
        raise exc

    return cmd


class Refused(NapError):
    """A NapError whose name does not end in ``Error``, defined outside the package."""


def test_a_naperror_is_one_line_with_status_1(monkeypatch, capsys):
    from nap import cli
    from nap.corpus.librispeech import LibriSpeechError

    monkeypatch.setattr(cli, "cmd_params", _raising(LibriSpeechError("LibriSpeech root /x does not exist")))
    assert cli.main(["params"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "nap: error: LibriSpeech root /x does not exist\n" and captured.out == ""
    monkeypatch.setattr(cli, "cmd_params", _raising(Refused("no, because of the file /y")))
    assert cli.main(["params"]) == 1
    assert capsys.readouterr().err == "nap: error: no, because of the file /y\n"


def test_a_parameter_error_is_one_line_with_status_2(monkeypatch, capsys):
    from nap import cli
    from nap.params import ParamError

    monkeypatch.setattr(
        cli, "cmd_params", _raising(ParamError("parameter 'asr.x' must be at least 1, got 0"))
    )
    assert cli.main(["params"]) == 2
    assert capsys.readouterr().err == "nap: error: parameter 'asr.x' must be at least 1, got 0\n"


def test_an_error_that_is_not_a_naperror_is_a_bug_even_if_named_like_one(monkeypatch, capsys):
    """The class decides, not its name: an ``...Error`` of a ``nap.`` module that is no NapError
    goes up with its traceback."""
    from nap import cli

    LookAlike = types.new_class("LookAlikeError", (RuntimeError,))
    LookAlike.__module__ = "nap.store"
    monkeypatch.setattr(cli, "cmd_params", _raising(LookAlike("a bug")))
    with pytest.raises(LookAlike):
        cli.main(["params"])
    assert capsys.readouterr().err == ""


def test_a_bug_shows_its_traceback_and_exits_with_status_1():
    code = (
        "import sys\n"
        "from nap import cli\n"
        "def cmd(args):\n"
        "    return {}['no such key']\n"
        "cli.cmd_params = cmd\n"
        "sys.exit(cli.main(['params']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1
    assert out.stderr.startswith("Traceback (most recent call last):")
    assert out.stderr.rstrip().endswith("KeyError: 'no such key'") and "nap: error" not in out.stderr


# -- bad input that used to end in a builtin exception (a traceback on the command line) ------
def test_align_splits_without_utterances_is_a_parameter_error():
    from nap.align.params import AlignParams
    from nap.align.stage import select_utterances
    from nap.asr.synthetic import SyntheticCorpus
    from nap.params import ParamError

    with pytest.raises(ParamError) as info:
        select_utterances(SyntheticCorpus(n_train=0, n_test=0), AlignParams.from_dict({}))
    assert str(info.value) == (
        "parameter 'align.splits': the corpus has no utterances in the splits "
        "['train', 'test_sentences', 'test_voices']"
    )


def test_an_empty_train_split_is_a_training_error():
    from nap.asr.params import AsrParams
    from nap.asr.stage import prepare_all
    from nap.asr.synthetic import SyntheticCorpus
    from nap.asr.train import TrainingError

    synth = SyntheticCorpus(n_train=0, n_test=2)
    with pytest.raises(TrainingError, match="^corpus : the train split is empty$"):
        prepare_all(AsrParams.from_dict({}), synth, synth, curves=False)


def _g2p_net():
    from nap.g2p.model import G2PNet, NetConfig

    return G2PNet(NetConfig(n_letters=5, n_phones=6, embedding=4, encoder_hidden=4, decoder_hidden=4))


def test_a_damaged_g2p_checkpoint_is_a_training_error(tmp_path):
    import torch

    from nap.g2p.train import CHECKPOINT, G2PTrainingError, _load_checkpoint

    (tmp_path / CHECKPOINT).write_bytes(b"not a checkpoint")
    net, ema = _g2p_net(), _g2p_net()
    opt = torch.optim.Adam(net.parameters())
    with pytest.raises(
        G2PTrainingError, match=r"^cannot resume from .*checkpoint.pt: .*\(delete it to start over\)$"
    ):
        _load_checkpoint(tmp_path, net, ema, opt)


def test_bfloat16_the_cpu_cannot_run_is_a_training_error():
    from nap.g2p.data import Batch
    from nap.g2p.params import G2PParams
    from nap.g2p.train import G2PTrainingError, train_step

    class Net(torch.nn.Module):  # no parameters: its inputs are made on the CPU
        def forward(self, letters, target):
            raise RuntimeError("no bfloat16 LSTM kernel")

    net = Net()

    b = Batch(np.ones((1, 2), np.int64), np.ones((1, 3), np.int64), np.zeros(1, np.int64))
    with pytest.raises(G2PTrainingError) as info:
        train_step(net, None, b, G2PParams.from_dict({}), autocast=True)  # type: ignore[arg-type]
    assert str(info.value) == (
        "g2p: the LSTM cannot run in bfloat16 on this CPU (no bfloat16 LSTM kernel); "
        "set g2p.precision auto or float32"
    )
