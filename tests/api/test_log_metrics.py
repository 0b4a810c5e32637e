"""log_metrics: history lines, latest value, NaN/inf, bad values."""

from __future__ import annotations

import math
import os

import pytest

from litexp import InvalidInputError


def test_history_and_latest(R):
    with R.start(experiment_name="e"):
        for step in range(5):
            R.log_metrics(step=step, loss=1.0 / (step + 1), ic=0.1 * step)
        rec = R.get_recorder()
    hist = rec.get_metric_history("loss")
    assert [p.step for p in hist] == [0, 1, 2, 3, 4]
    assert [p.value for p in hist] == [1.0 / (s + 1) for s in range(5)]
    assert rec.list_metrics() == {"loss": 0.2, "ic": pytest.approx(0.4)}


def test_latest_is_greatest_step_not_last_line(R):
    with R.start(experiment_name="e"):
        R.log_metrics(step=5, m=5.0)
        R.log_metrics(step=2, m=2.0)
        rec = R.get_recorder()
        assert rec.list_metrics()["m"] == 5.0


def test_step_none_is_zero(R):
    with R.start(experiment_name="e"):
        R.log_metrics(m=1.0)
        assert R.get_recorder().get_metric_history("m")[0].step == 0


def test_nan_and_inf_accepted(R):
    with R.start(experiment_name="e"):
        R.log_metrics(step=0, a=float("nan"), b=float("inf"), c=float("-inf"))
        rec = R.get_recorder()
        metrics = rec.list_metrics()
    assert math.isnan(metrics["a"]) and metrics["b"] == math.inf and metrics["c"] == -math.inf
    with open(os.path.join(rec.get_local_dir(), "metrics", "a")) as fh:
        assert fh.read().split()[1] == "nan"


def test_line_format(R):
    with R.start(experiment_name="e"):
        R.log_metrics(step=3, x=0.1)
        rec = R.get_recorder()
    with open(os.path.join(rec.get_local_dir(), "metrics", "x")) as fh:
        ts, value, step = fh.read().rstrip("\n").split(" ")
    assert int(ts) > 0 and value == "0.1" and step == "3"


@pytest.mark.parametrize("value", ["1.0", None, True, [1], {"a": 1}])
def test_non_numbers_refused(R, value):
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
        with pytest.raises(InvalidInputError, match="must be a number"):
            R.log_metrics(x=value)
        R.log_metrics(ok=1)
        assert rec.list_metrics() == {"ok": 1.0}
        assert not os.path.exists(os.path.join(rec.get_local_dir(), "metrics", "x"))


def test_numpy_numbers_accepted(R):
    np = pytest.importorskip("numpy")
    with R.start(experiment_name="e"):
        R.log_metrics(step=np.int64(2), a=np.float32(0.5), b=np.int32(3))
        rec = R.get_recorder()
        assert rec.list_metrics() == {"a": 0.5, "b": 3.0}
        assert rec.get_metric_history("a")[0].step == 2


@pytest.mark.parametrize("step", ["1", 1.5, True])
def test_bad_step_refused(R, step):
    with R.start(experiment_name="e"):
        with pytest.raises(InvalidInputError, match="step"):
            R.log_metrics(step=step, x=1.0)


def test_unknown_metric_history(R):
    with R.start(experiment_name="e"):
        with pytest.raises(ValueError, match="no metric"):
            R.get_recorder().get_metric_history("nope")


def test_many_points_batched(R):
    with R.start(experiment_name="e"):
        for i in range(2000):
            R.log_metrics(step=i, v=float(i))
        rec = R.get_recorder()
    hist = rec.get_metric_history("v")
    assert len(hist) == 2000 and hist[-1].value == 1999.0


def test_identical_points_are_written_once(R):
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
        rec.store.log_batch(rec.id, [("d", 1.0, 5, 0), ("d", 1.0, 5, 0), ("d", 2.0, 5, 0)])
        rec.store.log_batch(rec.id, [("d", 2.0, 5, 0), ("d", float("nan"), 6, 0), ("d", float("nan"), 6, 0)])
        hist = rec.get_metric_history("d")
    assert [(p.timestamp, p.step) for p in hist] == [(5, 0), (5, 0), (6, 0)]
    assert [p.value for p in hist][:2] == [1.0, 2.0]
