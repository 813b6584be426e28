"""Devices: one spelling and one run-time resolution for every ``<stage>.device``, exact float32 in
NAP extraction, the process group's backend, and the CPU's NAP sums unchanged bit for bit.

No GPU is needed: where a test needs one, torch's answers (``is_available``, ``device_count``)
are replaced, and the accumulator's device path (indices on the device, probe rows copied back
at flush time) is forced onto the CPU, where it must give the very same sums.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nap import hardware
from nap.asr import distributed as D
from nap.asr.model import Architecture, Wav2Letter
from nap.cli import main as nap_main
from nap.hardware import check_device, exact_float32, module_on, process_group_backend, resolve_device
from nap.naps.extract import Item, LayerTap, NapAccumulator
from nap.naps.geometry import INPUT, model_geometry
from nap.params import ParamError
from nap.profile import Profile
from nap.stages import REGISTRY
from nap.study import Study

#: ``NapAccumulator.state()`` of :func:`accumulator_batches` as computed by the code before the
#: device path existed (commit 0be6a6f, torch 2.13.0 CPU): the CPU's sums must stay bit-identical.
SAVED = Path(__file__).parent / "data" / "naps_cpu_sums.npz"
GROUPS = {"grapheme": 5, "phoneme": 4}
DEVICE_STAGES = ("asr", "g2p", "align", "naps")
NO_GPU = "but torch finds no CUDA GPU on this machine; use auto (a GPU when there is one) or cpu"
NO_GPU_RE = re.escape(NO_GPU)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    """torch's answers of a machine with two GPUs (nothing is run on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("LOCAL_RANK", raising=False)


# -- spelling (read time) and resolution (run time) ----------------------------------------------
@pytest.mark.parametrize("value", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_device_spellings_are_accepted(value):
    check_device(value, "naps.device")
    for stage in DEVICE_STAGES:
        assert Profile.load("default", {f"{stage}.device": value})[stage].device == value


@pytest.mark.parametrize("value", ["gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "mps", "", 0, None])
def test_a_misspelt_device_names_the_parameter(value):
    with pytest.raises(ParamError) as info:
        check_device(value, "g2p.device")
    assert str(info.value) == f"parameter 'g2p.device' must be auto, cpu, cuda or cuda:N, got {value!r}"
    if isinstance(value, str):
        with pytest.raises(ParamError, match="parameter 'align.device' must be auto, cpu, cuda or cuda:N"):
            Profile.load("default", {"align.device": value})


def test_auto_is_the_cpu_without_a_gpu_and_cuda_fails_only_at_run_time(no_gpu):
    assert resolve_device("auto", "naps.device") == torch.device("cpu")
    assert resolve_device("cpu", "naps.device") == torch.device("cpu")
    for value in ("cuda", "cuda:1"):
        with pytest.raises(ParamError) as info:
            resolve_device(value, "naps.device")
        assert str(info.value) == f"parameter 'naps.device' is {value}, {NO_GPU}"


def test_auto_and_cuda_take_the_local_rank_gpu(two_gpus, monkeypatch):
    assert resolve_device("auto", "naps.device") == torch.device("cuda", 0)
    monkeypatch.setenv("LOCAL_RANK", "1")  # torchrun's second process on this node
    assert resolve_device("auto", "naps.device") == torch.device("cuda", 1)
    assert resolve_device("cuda", "naps.device") == torch.device("cuda", 1)
    assert resolve_device("cuda:0", "naps.device") == torch.device("cuda", 0)  # asked for: every process
    assert resolve_device("cuda", "asr.device", local_rank=0) == torch.device("cuda", 0)
    assert resolve_device("cpu", "naps.device") == torch.device("cpu")


def test_a_gpu_the_machine_lacks_is_named(two_gpus, monkeypatch):
    with pytest.raises(ParamError) as info:
        resolve_device("cuda:2", "g2p.device")
    assert str(info.value) == (
        "parameter 'g2p.device' is cuda:2, but torch finds 2 CUDA GPUs (cuda:0 to cuda:1) on this machine"
    )
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(ParamError) as info:
        resolve_device("auto", "naps.device")
    assert str(info.value) == (
        "parameter 'naps.device' is auto for the process of LOCAL_RANK 2 (one GPU per process), but "
        "torch finds 2 CUDA GPUs (cuda:0 to cuda:1) on this machine"
    )


def test_every_device_parameter_is_documented_and_outside_the_key():
    for stage in DEVICE_STAGES:
        cls = REGISTRY[stage].params_class()
        rows = {name: (default, doc) for name, _, default, doc in cls.describe()}
        default, doc = rows["device"]
        assert default == "auto" and hardware.DEVICE_HELP in doc, stage
        assert "device" not in cls().key_dict(), stage


def test_a_cuda_profile_reads_on_a_machine_without_a_gpu(no_gpu, tmp_path):
    """``nap params``/``nap results`` of a cuda profile: the parameters read, the keys unchanged."""
    cuda = {f"{stage}.device": "cuda" for stage in DEVICE_STAGES}
    plain, on_gpu = Study("paper", artifacts=tmp_path), Study("paper", cuda, artifacts=tmp_path)
    assert {s: on_gpu.key(s) for s in REGISTRY} == {s: plain.key(s) for s in REGISTRY}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        args = ["params", "--profile", "paper", *[x for k, v in cuda.items() for x in ("-p", k, v)]]
        assert nap_main(args) == 0
    assert "cuda" in out.getvalue()


# -- the stages raise it when they run -----------------------------------------------------------
def test_the_stages_name_their_device_when_cuda_is_missing(no_gpu, tmp_path):
    from nap.align.stage import build_alignment
    from nap.g2p.stage import build_g2p
    from nap.naps.stage import build_naps

    study = Study("tiny", {f"{s}.device": "cuda" for s in DEVICE_STAGES}, artifacts=tmp_path / "artifacts")
    with pytest.raises(ParamError, match=f"^parameter 'asr.device' is cuda, {NO_GPU_RE}$"):
        D.device_for(D.DistInfo(), study.params("asr").device)
    with pytest.raises(ParamError, match=f"^parameter 'g2p.device' is cuda, {NO_GPU_RE}$"):
        build_g2p(tmp_path / "g2p", study.params("g2p"))
    rec = SimpleNamespace(model=Wav2Letter(Architecture(n_mels=6, classes=5, channels=5, hidden=7)))
    with pytest.raises(ParamError, match=f"^parameter 'align.device' is cuda, {NO_GPU_RE}$"):
        build_alignment(tmp_path / "align", study.params("align"), None, None, rec, None)
    with pytest.raises(ParamError, match=f"^parameter 'naps.device' is cuda, {NO_GPU_RE}$"):
        build_naps(tmp_path / "naps", study.params("naps"), None, None, rec, None)
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_a_network_is_copied_to_another_device_and_the_original_stays():
    model = torch.nn.Linear(3, 2)
    assert module_on(model, "cpu") is model
    moved = module_on(model, "meta")
    assert moved is not model and next(moved.parameters()).device.type == "meta"
    assert next(model.parameters()).device.type == "cpu"


# -- exact float32 -------------------------------------------------------------------------------
@contextlib.contextmanager
def _tf32_on():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _tf32() -> tuple[bool, bool]:
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


def test_extraction_and_the_reference_run_without_tf32_and_restore_it(monkeypatch):
    """Seen from inside: the accumulator's per-layer hook and the reference's forward passes."""
    from nap.naps.api import extract_naps
    from nap.naps.reference import reference_sums

    model = Wav2Letter(Architecture(n_mels=6, classes=5, channels=5, hidden=7, k7_layers=1))
    g = model_geometry(model)
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((6, g.receptive_field + 9)).astype(np.float32) for _ in range(2)]
    labels = [{"grapheme": rng.integers(-1, 5, g.frames(x.shape[1]))} for x in inputs]
    in_extraction: list[tuple[bool, bool]] = []
    add_layer = NapAccumulator.add_layer

    def observed(self, name, a):
        in_extraction.append(_tf32())
        add_layer(self, name, a)

    monkeypatch.setattr(NapAccumulator, "add_layer", observed)
    in_reference: list[tuple[bool, bool]] = []
    layer = g.select(["layer01"])[0]
    with _tf32_on():
        extract_naps(model, inputs, labels, {"grapheme": 5})
        assert len(in_extraction) == 5 and set(in_extraction) == {(False, False)}  # 5 layers, 1 batch
        assert _tf32() == (True, True)
        hook = model.layer01.register_forward_hook(lambda *_: in_reference.append(_tf32()))
        reference_sums(
            model, {layer.name: layer.module}, inputs, labels, {"grapheme": 5}, g.receptive_field, g.stride
        )
        hook.remove()
        assert in_reference and set(in_reference) == {(False, False)}
        assert _tf32() == (True, True)
        with pytest.raises(RuntimeError, match="inside"), exact_float32():
            assert _tf32() == (False, False)
            raise RuntimeError("inside")
        assert _tf32() == (True, True)


# -- the process group ---------------------------------------------------------------------------
def test_nccl_on_gpus_and_gloo_on_cpus():
    assert process_group_backend(torch.device("cuda", 1)) == "nccl"
    assert process_group_backend("cuda") == "nccl"
    assert process_group_backend(torch.device("cpu")) == "gloo"


def test_torchrun_naps_takes_its_local_rank_gpu_and_nccl(two_gpus, monkeypatch):
    from nap.naps import torchrun

    monkeypatch.setenv("LOCAL_RANK", "1")
    calls: dict[str, object] = {}
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.setdefault("device", d))

    def init_from_env(backend: str) -> tuple[int, int]:
        calls["backend"] = backend
        return 0, 1

    monkeypatch.setattr(torchrun, "init_from_env", init_from_env)
    study = SimpleNamespace(
        params=lambda stage: SimpleNamespace(device="auto"),
        join_group=lambda *a: None,
        artifact=lambda *a, **k: SimpleNamespace(path="built"),
    )
    with contextlib.redirect_stdout(io.StringIO()):
        assert torchrun.run(study, argparse.Namespace()) == 0
    assert calls == {"device": torch.device("cuda", 1), "backend": "nccl"}


# -- the CPU's sums, bit for bit -----------------------------------------------------------------
def accumulator_batches(flush_every: int = 2) -> tuple[NapAccumulator, list[tuple[dict, list[Item]]]]:
    """A small accumulator (every layer and the input, probe rows) and three batches of fixed
    activations drawn with numpy, so the sums do not depend on the CPU's convolution kernels."""
    torch.manual_seed(0)
    model = Wav2Letter(Architecture(n_mels=6, classes=5, channels=5, hidden=7, k7_layers=1)).eval()
    geometry = model_geometry(model)
    layers = geometry.layers
    rng = np.random.default_rng(7)
    acc = NapAccumulator(geometry, layers, GROUPS, probe_size=18, flush_every=flush_every)
    batches, row = [], 0
    for _ in range(3):
        n_in = [geometry.receptive_field + int(k) for k in rng.integers(4, 30, 3)]
        items = []
        for n in n_in:
            frames = geometry.frames(n)
            labels = {k: rng.integers(-1, g, frames) for k, g in GROUPS.items()}
            probe = np.sort(rng.choice(frames, size=2, replace=False))
            items.append(Item(torch.zeros(6, n), labels, probe, np.arange(row, row + 2)))
            row += 2
        with LayerTap(model, layers, stop_early=False) as tap:
            shapes = {k: v.shape for k, v in tap.run(torch.zeros(3, 6, max(n_in))).items()}
        shapes[INPUT] = (3, 6, max(n_in))
        acts = {
            g.name: torch.from_numpy(rng.standard_normal(shapes[g.name]).astype(np.float32)) for g in layers
        }
        batches.append((acts, items))
    return acc, batches


def _assert_saved(acc: NapAccumulator) -> None:
    state = acc.state()
    with np.load(SAVED) as saved:
        assert sorted(state) == sorted(saved.files)
        for name in saved.files:
            np.testing.assert_array_equal(state[name], saved[name], err_msg=name, strict=True)


@pytest.fixture
def device_path(monkeypatch):
    """The accumulator's GPU code path, run on the CPU."""
    monkeypatch.setattr(NapAccumulator, "on_cpu", property(lambda self: False))


def test_cpu_sums_are_bit_identical_to_the_saved_ones():
    acc, batches = accumulator_batches()
    for acts, items in batches:
        acc.add(acts, items)
    _assert_saved(acc)


def test_the_device_path_gives_the_same_sums(device_path):
    acc, batches = accumulator_batches()
    for acts, items in batches:
        acc.add(acts, items)
    _assert_saved(acc)


def test_the_device_path_waits_for_the_device_only_at_flush_time(device_path, monkeypatch):
    """No tensor comes back to the host inside the per-batch loop; each batch's index goes over once."""
    acc, batches = accumulator_batches(flush_every=100)
    trips: list[str] = []
    copies: list[int] = []

    def spy(cls: type, name: str, record) -> None:
        original = getattr(cls, name)

        def wrapper(self, *args, **kwargs):
            record(name, args)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, wrapper)

    for name in ("cpu", "item", "tolist", "numpy", "__array__"):
        spy(torch.Tensor, name, lambda name, args: trips.append(name))
    spy(NapAccumulator, "_to_device", lambda name, args: copies.append(len(args)))
    for acts, items in batches:
        acc.add(acts, items)
    assert trips == [] and copies == [7, 7, 7]  # b, t, starts, present groups and the probe's b, t, rows
    acc.flush()
    assert trips and set(trips) == {"cpu"}  # the probe rows, once per layer and batch
    assert int(acc.probe_filled.sum()) == 18 and bool((acc.probe["layer01"] != 0).all())
