"""The command line: parameters, results, errors that name the culprit."""

from __future__ import annotations

import json
import subprocess
import sys


def nap(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nap", *args], capture_output=True, text=True, **kw)


def test_params_lists_values_and_meanings():
    out = nap("params", "--profile", "tiny", "asr")
    assert out.returncode == 0, out.stderr
    assert "[asr]" in out.stdout and "seed" in out.stdout


def test_results_json_before_anything_is_built(tmp_path):
    out = nap("results", "--profile", "tiny", "--artifacts", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["profile"] == "tiny" and data["stages"]["corpus"] is None


def test_bad_profile_and_parameters_are_clear_errors(tmp_path):
    out = nap("results", "--profile", "nosuch")
    assert out.returncode == 2 and "unknown profile 'nosuch'" in out.stderr
    out = nap("results", "--profile", "tiny", "-p", "asr.seed", "abc", "--artifacts", str(tmp_path))
    assert out.returncode == 2 and "asr.seed" in out.stderr
    out = nap("study", "--profile", "tiny", "-p", "no_such_param", "1", "--artifacts", str(tmp_path))
    assert out.returncode == 2 and "no_such_param" in out.stderr
    assert "Traceback" not in out.stderr


def test_importing_nap_first_makes_openmp_threads_sleep_while_waiting():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import nap, os; print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"  # the user's own setting wins
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ACTIVE"


def _corrupt_corpus_artifact(artifacts):
    """A finished corpus artifact under the tiny profile's key whose file was changed afterwards."""
    from nap.store import Store
    from nap.study import Study

    study = Study("tiny", artifacts=artifacts)
    art = Store(artifacts).build(
        "corpus",
        study.params("corpus").key_dict(),
        study.inputs("corpus"),
        lambda work: (work / "corpus.json").write_text("{}") and {"utterances": 3},
        version=study.version("corpus"),
    )
    assert art.key == study.key("corpus")
    (art.path / "corpus.json").write_text("[]")
    return art


def test_results_reads_only_and_reports_a_corrupt_artifact(tmp_path):
    art = _corrupt_corpus_artifact(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    out = nap("results", "--profile", "tiny", "--artifacts", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert f"corrupt: {art.path.name} is corrupt (corpus.json does not match its checksum)" in out.stdout
    assert "recomputing" not in out.stdout + out.stderr
    out = nap("results", "--profile", "tiny", "--artifacts", str(tmp_path), "--json")
    data = json.loads(out.stdout)
    assert data["stages"]["corpus"] is None and "does not match its checksum" in data["corrupt"]["corpus"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing moved, nothing written


def test_params_and_results_import_neither_torch_nor_sklearn(tmp_path):
    code = (
        "import sys, io, contextlib\n"
        "from nap.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['params', '--profile', 'tiny']) == 0\n"
        f"    assert main(['results', '--profile', 'tiny', '--artifacts', {str(tmp_path)!r}]) == 0\n"
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_gc_lists_by_default_and_removes_with_yes(tmp_path):
    from nap.store import Store
    from nap.study import Study

    study = Study("tiny", artifacts=tmp_path)
    store = Store(tmp_path)
    current = store.build("g2p", {"seed": 0}, {}, lambda w: {}, version=study.version("g2p")).path
    current.rename(store.folder("g2p", study.key("g2p")))  # the current parameters' g2p: kept
    other = store.build("g2p", {"x": "other parameters"}, {}, lambda w: {}).path
    (tmp_path / "corpus-aaaaaaaaaaaa.partial").mkdir()
    (tmp_path / "naps-bbbbbbbbbbbb.corrupt-1700000000").mkdir()
    listed = {other.name, "corpus-aaaaaaaaaaaa.partial", "naps-bbbbbbbbbbbb.corrupt-1700000000"}
    everything = {p.name for p in tmp_path.iterdir()}

    out = nap("gc", "--profile", "tiny", "--artifacts", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert all(name in out.stdout for name in listed)
    assert f"g2p-{study.key('g2p')}" not in out.stdout
    assert "dry run, nothing removed: --yes removes these 3 folder(s)" in out.stdout
    assert {p.name for p in tmp_path.iterdir()} == everything

    out = nap("gc", "--profile", "tiny", "--artifacts", str(tmp_path), "--yes")
    assert out.returncode == 0, out.stderr
    assert "removed 3 folder(s)" in out.stdout
    assert {p.name for p in tmp_path.iterdir()} == everything - listed
    assert "nothing to remove" in nap("gc", "--profile", "tiny", "--artifacts", str(tmp_path)).stdout


def test_exit_status_is_2_for_parameters_and_1_for_a_full_disk(monkeypatch, capsys):
    from nap import cli
    from nap.params import ParamError
    from nap.store import DiskFullError

    def fail(exc):
        def cmd(args):
            raise exc

        return cmd

    monkeypatch.setattr(cli, "cmd_params", fail(DiskFullError("disk full while writing x.json")))
    assert cli.main(["params"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nap: error: disk full while writing x.json\n") and "free some space" in err
    monkeypatch.setattr(cli, "cmd_params", fail(ParamError("parameter 'asr.x' is bad")))
    assert cli.main(["params"]) == 2


def test_outside_the_checkout_the_chapter_commands_say_where_the_sources_are(tmp_path):
    common = ["--profile", "tiny", "--artifacts", str(tmp_path / "a")]
    for args in (["study", "--no-book", *common], ["run", "05", *common], ["book"]):
        out = nap(*args, cwd=tmp_path)
        assert out.returncode == 1, (args, out.stderr)
        assert out.stderr.startswith(f"nap: error: no book sources in {tmp_path} (missing _config.yml"), args
        assert "run them from inside it" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "a").exists()  # nothing built
