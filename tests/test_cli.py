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
