"""The command line verbs mirror library calls."""

from __future__ import annotations

import subprocess
import sys

from litexp import FileExpManager, QlibRecorder


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "litexp", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def make_store(tmp_path):
    r = QlibRecorder(FileExpManager("file:" + str(tmp_path / "mlruns"), "Experiment"))
    for i in range(3):
        with r.start(experiment_name="alpha", recorder_name=f"run{i}"):
            r.log_params(model="lgbm" if i else "linear")
            r.log_metrics(ic=0.01 * i)
    return r


def test_experiments_and_runs(tmp_path):
    make_store(tmp_path)
    out = cli("experiments", cwd=tmp_path)
    assert out.returncode == 0 and "alpha" in out.stdout and "Default" in out.stdout
    out = cli("experiments", "--filter", "name LIKE 'al%'", cwd=tmp_path)
    assert "alpha" in out.stdout and "Default" not in out.stdout
    out = cli("runs", "alpha", "--filter", "params.model = 'lgbm'", "--order-by", "metrics.ic DESC", "--csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("run_id,")


def test_errors_are_one_line(tmp_path):
    make_store(tmp_path)
    out = cli("runs", "alpha", "--filter", "metrics.ic >", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("litexp: ") and "Traceback" not in out.stderr
    out = cli("runs", "missing", cwd=tmp_path)
    assert out.returncode == 2 and "missing" in out.stderr


def test_stale_verb(tmp_path):
    code = (
        "import os\nfrom litexp import R\nR.set_uri('file:mlruns')\nR.start_exp(experiment_name='alpha')\n"
        "print(R.get_recorder().id, flush=True)\nos._exit(0)\n"
    )
    rid = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    out = cli("stale", cwd=tmp_path)
    assert rid in out.stdout and "gone" in out.stdout
    out = cli("stale", "alpha", "--end", cwd=tmp_path)
    assert "ended KILLED" in out.stdout
    assert "no stale runs" in cli("stale", cwd=tmp_path).stdout
