"""Precision and threads chosen from the machine (nap.hardware) and the training-time estimate (nap.eta).

The CPU's features are faked, so these tests say the same on a CPU with and without bfloat16.
"""

from __future__ import annotations

import time

import pytest
import torch

from nap import eta as eta_mod
from nap import hardware
from nap.asr.params import AsrParams
from nap.g2p.params import G2PParams
from nap.params import ParamError
from nap.study import Study

AVX2_ONLY = "CPU capability AVX2, without AVX512-BF16 or AMX"


def fake_cpu(monkeypatch: pytest.MonkeyPatch, *, bf16: bool, amx: bool = False, cap: str = "AVX512") -> None:
    monkeypatch.setattr(hardware.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: cap)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)


@pytest.mark.parametrize(
    ("bf16", "amx", "cap", "native"),
    [
        (True, False, "AVX512", True),  # AVX512-BF16
        (False, True, "AVX512", True),  # AMX
        (False, False, "AVX512", False),  # AVX-512 without bfloat16 (e.g. Skylake)
        (False, False, "AVX2", False),  # the AMD EPYC of the issue
        (True, False, "AVX2", False),  # ATEN_CPU_CAPABILITY=avx2 on a bfloat16 CPU
    ],
)
def test_native_bf16_needs_avx512_bf16_or_amx_uncapped(monkeypatch, bf16, amx, cap, native):
    fake_cpu(monkeypatch, bf16=bf16, amx=amx, cap=cap)
    got, why = hardware.cpu_bf16()
    assert got is native
    assert cap in why or "ATEN" in why


def test_onednn_isa_cap_turns_native_bf16_off(monkeypatch):
    fake_cpu(monkeypatch, bf16=True)
    assert hardware.cpu_bf16()[0]
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    native, why = hardware.cpu_bf16()
    assert not native and "ONEDNN_MAX_CPU_ISA" in why
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx512_core_amx")
    assert hardware.cpu_bf16()[0]


def test_arm_and_other_cpus_get_float32(monkeypatch):
    fake_cpu(monkeypatch, bf16=True)
    monkeypatch.setattr(hardware.platform, "machine", lambda: "aarch64")
    assert hardware.resolve_precision("auto", "cpu", "asr.precision").precision == "float32"


@pytest.mark.parametrize(("native", "expected"), [(True, "bfloat16"), (False, "float32")])
def test_auto_picks_bf16_only_where_native(monkeypatch, native, expected):
    fake_cpu(monkeypatch, bf16=native, cap="AVX512" if native else "AVX2")
    got = hardware.resolve_precision("auto", "cpu", "asr.precision")
    assert got.precision == expected and got.requested == "auto"
    assert got.autocast is (expected == "bfloat16")
    assert got.record() == {"precision": expected, "precision_reason": got.reason}


def test_float32_asked_is_float32_everywhere(monkeypatch):
    fake_cpu(monkeypatch, bf16=True)
    assert hardware.resolve_precision("float32", "cpu", "asr.precision").precision == "float32"


def test_explicit_bf16_without_native_support_warns_with_the_measured_cost(monkeypatch, capsys):
    fake_cpu(monkeypatch, bf16=False, cap="AVX2")
    with pytest.warns(hardware.PrecisionWarning, match=r"asr.precision bfloat16 .*16-26 s"):
        got = hardware.resolve_precision("bfloat16", "cpu", "asr.precision")
    assert got.precision == "bfloat16"
    assert "warning: asr.precision bfloat16" in capsys.readouterr().err


def test_explicit_bf16_lstm_without_native_support_falls_back_and_says_so(monkeypatch, capsys):
    fake_cpu(monkeypatch, bf16=False, cap="AVX2")
    with pytest.warns(hardware.PrecisionWarning, match="no bfloat16 LSTM"):
        got = hardware.resolve_precision("bfloat16", "cpu", "g2p.precision", cpu_kernels=False)
    assert got.precision == "float32" and "bfloat16 asked for" in got.reason
    assert "training in float32 instead" in capsys.readouterr().err


def test_explicit_bf16_on_a_native_cpu_is_quiet(monkeypatch, recwarn):
    fake_cpu(monkeypatch, bf16=True)
    assert hardware.resolve_precision("bfloat16", "cpu", "g2p.precision", cpu_kernels=False).autocast
    assert not [w for w in recwarn if issubclass(w.category, hardware.PrecisionWarning)]


@pytest.mark.parametrize(("bf16_seconds", "expected"), [(0.0, "bfloat16"), (0.02, "float32")])
def test_gpu_auto_takes_bf16_only_when_a_step_measures_faster(monkeypatch, bf16_seconds, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # no synchronize
    calls: list[bool] = []

    def step(autocast: bool) -> None:
        calls.append(autocast)
        time.sleep(bf16_seconds if autocast else 0.01)

    got = hardware.resolve_precision("auto", "cuda", "asr.precision", measure=step)
    assert got.precision == expected and got.reason.startswith("Fake GPU: bfloat16")
    assert calls.count(True) == calls.count(False) == 4  # a warm-up and three timed steps each way
    assert hardware.resolve_precision("auto", "cuda", "asr.precision").precision == "float32"  # unmeasured


def test_threads_auto_share_the_cores(monkeypatch):
    monkeypatch.setattr(hardware, "cores", lambda: 16)
    assert hardware.resolve_threads("auto") == 16
    assert hardware.resolve_threads("auto", share=2) == 8
    assert hardware.resolve_threads("auto", share=32) == 1
    assert hardware.resolve_threads(3, share=2) == 3


def test_g2p_auto_workers_and_threads_follow_the_cores(monkeypatch):
    p = G2PParams.from_dict({})
    assert p.workers == p.threads == "auto"
    for n, processes, threads in ((1, 1, 1), (2, 2, 1), (16, 2, 8)):
        monkeypatch.setattr(hardware, "cores", lambda n=n: n)
        assert (p.processes, p.process_threads) == (processes, threads)


THREADS = ["asr.threads", "g2p.threads", "g2p.workers", "align.workers", "naps.threads"]


@pytest.mark.parametrize("name", THREADS)
@pytest.mark.parametrize("value", [0, -2, "many"])
def test_thread_counts_are_auto_or_positive(name, value):
    with pytest.raises(ParamError, match=name.replace(".", r"\.")):
        Study("tiny", {name: value})


def test_precision_is_asked_for_in_the_key_and_resolved_in_the_summary():
    """The key holds ``auto`` (what was asked), so a store moves between machines; threads are not keyed."""
    assert AsrParams.from_dict({}).precision == "auto"
    assert AsrParams.from_dict({}).key_dict()["precision"] == "auto"
    assert "threads" not in AsrParams.from_dict({}).key_dict()
    base = Study("tiny")
    f32 = Study("tiny", {"asr.precision": "float32"})
    assert f32.key("asr") != base.key("asr")
    with pytest.raises(ParamError, match="asr.precision"):
        AsrParams.from_dict({"precision": "float16"})


def test_eta_reports_after_the_first_steps_and_warns_over_budget(monkeypatch, capsys):
    clock = {"t": 0.0}
    monkeypatch.setattr(eta_mod.time, "perf_counter", lambda: clock["t"])
    monkeypatch.setattr(eta_mod.time, "process_time", lambda: clock["t"] * 2 * 0.5)  # half of 2 threads
    monkeypatch.setattr(eta_mod, "cores", lambda: 2)
    monkeypatch.setattr(eta_mod, "cpu_bf16", lambda: (False, AVX2_ONLY))
    e = eta_mod.Eta("asr training", total=3050, budget_minutes=30, precision="float32", threads=2, after=10)
    for _ in range(10):  # the first step is not timed
        clock["t"] += 1.2
        e.step()
    assert e.report == []
    clock["t"] += 1.2
    e.step()
    err = capsys.readouterr().err
    assert "1.2 s a step, 3039 steps left: about 61 min more (float32, 2 thread(s))" in err
    assert "over its budget of 30 min" in err
    assert "float32 arithmetic (CPU capability AVX2" in err and "a busy machine: this process got 50%" in err
    assert len(e.report) == 2
    for _ in range(30):  # reports once
        e.step()
    assert len(e.report) == 2


def test_eta_within_budget_only_estimates(monkeypatch, capsys):
    clock = {"t": 0.0}
    monkeypatch.setattr(eta_mod.time, "perf_counter", lambda: clock["t"])
    e = eta_mod.Eta("g2p training", total=100, budget_minutes=30, after=5)
    for _ in range(6):
        clock["t"] += 0.5
        e.step()
    assert len(e.report) == 1 and "about 47 s more" in e.report[0]
    assert "warning" not in capsys.readouterr().err


def test_likely_causes_name_bf16_threads_and_a_busy_machine(monkeypatch):
    monkeypatch.setattr(eta_mod, "cores", lambda: 8)
    monkeypatch.setattr(eta_mod, "cpu_bf16", lambda: (False, "CPU capability AVX2"))
    causes = eta_mod.likely_causes("bfloat16", 2, 0.3)
    assert any("bfloat16 on a CPU without native" in c for c in causes)
    assert any("2 thread(s) on a machine with 8 cores" in c for c in causes)
    assert any("busy machine" in c for c in causes)
    monkeypatch.setattr(eta_mod, "cpu_bf16", lambda: (True, "AVX512-BF16"))
    assert eta_mod.likely_causes("bfloat16", 8, 1.0) == ["a slower CPU than the profile was measured on"]
    # two G2P members side by side, one thread each, use both cores of a 2-core machine
    monkeypatch.setattr(eta_mod, "cores", lambda: 2)
    assert not any(
        "thread(s) on a machine" in c for c in eta_mod.likely_causes("float32", 1, 1.0, processes=2)
    )


def test_g2p_asked_for_bf16_on_a_cpu_without_it_trains_in_float32(monkeypatch, tmp_path):
    """The crash of the issue (oneDNN has no bfloat16 LSTM on AVX2) becomes a fallback that says so."""
    from nap.g2p import build_g2p

    monkeypatch.setattr(hardware, "cpu_bf16", lambda: (False, AVX2_ONLY))
    p = G2PParams.from_dict(
        {
            "max_words": 600,
            "embedding": 8,
            "encoder_hidden": 12,
            "decoder_hidden": 16,
            "epochs": 1,
            "batch_size": 64,
            "beam": 2,
            "threads": 1,
            "members": 1,
            "ema": 0.0,
            "precision": "bfloat16",
        }
    )
    with pytest.warns(hardware.PrecisionWarning, match="no bfloat16 LSTM"):
        summary = build_g2p(tmp_path, p, progress_bar=False)
    assert summary["precision"] == "float32" and "bfloat16 asked for" in summary["precision_reason"]
    assert summary["threads"] == 1 and summary["cpu_bf16"] is hardware.cpu_bf16()[0]
