"""The pure parts of the REST store, without a server: log-batch requests cut to MLflow's limits,
the on-disk spool, the retry schedule and the HTTP settings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from litexp import InvalidInputError, UndeliveredError
from litexp.config import http_settings
from litexp.store.rest.http import backoff_seconds
from litexp.store.rest.messages import MAX_BODY, batch_requests, json_number, metric_json
from litexp.store.rest.spool import Spool, spooled_servers


def _sizes(bodies):
    return [(len(b.get("metrics", ())), len(b.get("params", ())), len(b.get("tags", ()))) for b in bodies]


def test_batches_keep_mlflows_limits_and_the_order() -> None:
    metrics = [metric_json((f"m{i % 7}", float(i), 1000 + i, i)) for i in range(2500)]
    params = [{"key": f"p{i}", "value": "v"} for i in range(250)]
    tags = [{"key": f"t{i}", "value": "w"} for i in range(150)]
    bodies = list(batch_requests("r" * 32, metrics, params, tags))
    for m, p, t in _sizes(bodies):
        assert m <= 1000 and p <= 100 and t <= 100 and m + p + t <= 1000
    assert [x for b in bodies for x in b.get("metrics", ())] == metrics
    assert [x for b in bodies for x in b.get("params", ())] == params
    assert [x for b in bodies for x in b.get("tags", ())] == tags
    assert all(b["run_id"] == "r" * 32 for b in bodies)


def test_batches_stay_under_one_megabyte() -> None:
    params = [{"key": f"p{i}", "value": "x" * 6000} for i in range(100)]
    tags = [{"key": f"t{i}", "value": "y" * 8000} for i in range(100)]
    bodies = list(batch_requests("r" * 32, [], params, tags))
    assert len(bodies) >= 2
    assert all(len(json.dumps(b)) <= MAX_BODY for b in bodies)


def test_special_floats_travel_as_mlflows_strings() -> None:
    assert [json_number(v) for v in (float("nan"), float("inf"), -float("inf"), 1.5)] == [
        "NaN",
        "Infinity",
        "-Infinity",
        1.5,
    ]


def test_retry_schedule_is_urllib3s() -> None:
    assert [backoff_seconds(n, 2, 0) for n in range(8)] == [0, 4, 8, 16, 32, 64, 120, 120]


def test_bad_http_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "many")
    with pytest.raises(InvalidInputError, match="MLFLOW_HTTP_REQUEST_MAX_RETRIES"):
        http_settings()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "maybe")
    with pytest.raises(InvalidInputError, match="MLFLOW_TRACKING_INSECURE_TLS"):
        http_settings()


def test_spool_keeps_entries_in_order_until_marked_sent(tmp_path: Path) -> None:
    spool = Spool("http://127.0.0.1:5000", root=str(tmp_path))
    run = "a" * 32
    for i in range(3):
        spool.append(run, {"batch": {"metrics": [metric_json(("loss", float(i), 1, i))]}})
    assert spooled_servers(str(tmp_path)) == ["http://127.0.0.1:5000"]
    assert spool.run_ids() == [run] and spool.points(run) == 3
    entries = list(spool.pending(run))
    spool.mark_sent(run, entries[0][0])
    assert [e["batch"]["metrics"][0]["step"] for _, e in spool.pending(run)] == [1, 2]
    spool.mark_sent(run, entries[-1][0])
    assert not spool.has(run) and spool.run_ids() == []


def test_a_torn_last_line_is_skipped_and_later_entries_survive(tmp_path: Path) -> None:
    spool = Spool("http://h:1", root=str(tmp_path))
    run = "b" * 32
    spool.append(run, {"batch": {"metrics": [metric_json(("x", 1.0, 1, 0))]}})
    with open(spool.path(run), "ab") as fh:
        fh.write(b'{"batch": {"metr')  # a process killed mid-append
    spool.append(run, {"batch": {"metrics": [metric_json(("x", 2.0, 1, 1))]}})
    entries = [e for _, e in spool.pending(run)]
    assert entries[1] is None and entries[0] and entries[2]
    assert spool.points(run) == 2


def test_a_full_spool_refuses_with_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITEXP_SPOOL_MAX_MB", "0.001")
    spool = Spool("http://h:1", root=str(tmp_path))
    run = "c" * 32
    spool.append(run, {"batch": {"metrics": [metric_json(("x", 1.0, 1, 0))]}})
    with pytest.raises(UndeliveredError, match="LITEXP_SPOOL_MAX_MB") as info:
        spool.append(run, {"batch": {"metrics": [metric_json(("x", float(i), 1, i)) for i in range(100)]}})
    assert info.value.points == 1 and os.path.exists(info.value.spool_path)


def test_an_offset_left_by_an_earlier_spool_is_forgotten(tmp_path: Path) -> None:
    spool = Spool("http://h:1", root=str(tmp_path))
    run = "d" * 32
    spool.append(run, {"batch": {"metrics": [metric_json(("x", 0.0, 1, 0))]}})
    with open(os.path.join(spool.folder, run + ".sent"), "w") as fh:
        fh.write("10")  # a crash between removing the spool and its offset
    os.unlink(spool.path(run))
    for i in range(3):
        spool.append(run, {"batch": {"metrics": [metric_json(("x", float(i), 1, i))]}})
    assert [e["batch"]["metrics"][0]["step"] for _, e in spool.pending(run)] == [0, 1, 2]


@pytest.mark.parametrize("uri", ["http://127.0.0.1:abc", "http://127.0.0.1:99999", "http://bad host:80", "http://"])
def test_a_malformed_server_uri_is_refused(uri: str) -> None:
    from litexp.store.rest.http import HttpClient

    with pytest.raises(InvalidInputError, match="http"):
        HttpClient(uri)


def test_a_token_a_header_cannot_carry_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from litexp.store.rest.http import HttpClient

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "jeton-é✓")
    with pytest.raises(InvalidInputError, match="MLFLOW_TRACKING_TOKEN"):
        HttpClient("http://127.0.0.1:1")._headers()
