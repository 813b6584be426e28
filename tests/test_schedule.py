"""Stages built side by side: the G2P in a background process beside the acoustic chain."""

from __future__ import annotations

import threading
import time

import pytest

from nap.schedule import ScheduleError, build_stages
from nap.stages import upstream as needed
from nap.store import Store
from nap.study import Study


def test_needed_adds_what_a_stage_reads_in_data_flow_order():
    assert needed(["align"]) == ["corpus", "features", "asr", "g2p", "align"]
    assert needed(["cluster", "g2p"]) == ["corpus", "features", "asr", "g2p", "align", "naps", "cluster"]
    assert needed(["g2p"]) == ["g2p"]


@pytest.mark.slow
def test_g2p_builds_in_the_background_while_the_corpus_builds(tmp_path):
    study = Study("tiny", artifacts=tmp_path)
    seconds = build_stages(study, ["corpus", "g2p"])
    assert set(seconds) == {"corpus", "g2p"}
    assert all(s > 0 for s in seconds.values())
    [log] = (tmp_path / "logs").glob(f"g2p-{study.key('g2p')}.*.log")
    assert log.read_text().rstrip().endswith(str(tmp_path / f"g2p-{study.key('g2p')}"))
    assert study.artifact("g2p", build=False) is not None
    assert build_stages(study, ["corpus", "g2p"]) == {}  # nothing left to build


def test_a_single_stage_builds_in_this_process(tmp_path):
    study = Study("tiny", artifacts=tmp_path)
    build_stages(study, ["g2p"])
    assert not (tmp_path / "logs").exists()
    assert study.artifact("g2p", build=False) is not None


def test_a_failed_background_stage_names_its_log(tmp_path):
    study = Study("tiny", artifacts=tmp_path)
    blocker = tmp_path / f"g2p-{study.key('g2p')}.partial"
    blocker.write_text("a file where the work folder goes: the background build fails")
    with pytest.raises(ScheduleError, match=r"stage g2p failed in its background process .*logs/g2p-"):
        build_stages(study, ["corpus", "g2p"])
    assert study.artifact("corpus", build=False) is not None


def test_each_background_build_writes_its_own_log(tmp_path, monkeypatch):
    """Two studies building the same stage never share (and so never truncate) one log."""
    import nap.schedule as schedule

    class Idle:  # the process is not started: only the logs are under test
        def __init__(self, *args, **kw):
            pass

        def start(self):
            pass

    monkeypatch.setattr(
        schedule.multiprocessing, "get_context", lambda kind: type("C", (), {"Process": Idle})
    )
    pids = iter([1001, 1002])
    monkeypatch.setattr(schedule.os, "getpid", lambda: next(pids))
    first = schedule._Background(Study("tiny", artifacts=tmp_path), "g2p")
    first.log.write_text(first.log.read_text() + "first run's progress\n")
    second = schedule._Background(Study("tiny", artifacts=tmp_path), "g2p")
    assert first.log != second.log and first.log.parent == second.log.parent == tmp_path / "logs"
    assert first.log.read_text().endswith("first run's progress\n")
    assert second.log.read_text().startswith("[nap] g2p: built in the background for Study(profile='tiny'")


def test_a_second_builder_waits_for_the_first_and_uses_its_result(tmp_path, capsys):
    store = Store(tmp_path)
    calls: list[str] = []

    def slow(work):
        calls.append("slow")
        time.sleep(0.5)
        (work / "x.txt").write_text("1")
        return {"value": 1}

    def never(work):
        calls.append("never")
        return {"value": 2}

    first = threading.Thread(target=store.build, args=("demo", {"a": 1}, {}, slow))
    first.start()
    time.sleep(0.1)
    art = store.build("demo", {"a": 1}, {}, never)
    first.join()
    assert calls == ["slow"]
    assert art.summary["value"] == 1
    assert "waiting for another process that is building demo-" in capsys.readouterr().out


@pytest.mark.slow
def test_a_g2p_trained_in_several_processes_is_built_in_turn(tmp_path):
    study = Study("tiny", {"g2p.workers": 2}, artifacts=tmp_path)
    seconds = build_stages(study, ["corpus", "g2p"])
    assert set(seconds) == {"corpus", "g2p"}
    assert not (tmp_path / "logs").exists()  # no background process: the G2P takes the cores itself
    assert study.summary("g2p")["processes"] == 2
