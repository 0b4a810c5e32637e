"""MLflow's tracking server serves a litexp store over its REST API as litexp reads it.

``mlflow server --backend-store-uri file:///... --workers 1`` (the MLflow installed in
the test environment, ``MLFLOW_ALLOW_FILE_STORE=true``) runs on a store written with
litexp's API; every answer of ``experiments/search``, ``runs/search``, ``runs/get``,
``metrics/get-history``, ``artifacts/list`` and ``/get-artifact`` is compared with
litexp's own view. Waits are bounded and the server is always stopped.
"""

from __future__ import annotations

import logging
import pickle
import urllib.parse
from typing import Any, Dict, Iterator, List

from optional_support import requires

mlflow = requires("mlflow", "these tests run a real `mlflow server` on litexp's store")  # noqa: F841
import pytest
from interop_support import (
    LitexpStore,
    api_url,
    encode_float,
    http_get,
    http_json,
    litexp_view,
    mlflow_server,
    runs_of_deleted_experiments,
    write_litexp_store,
)

from litexp import FileExpManager, QlibRecorder
from litexp.store import FileStore, ViewType


@pytest.fixture(scope="module")
def lx(tmp_path_factory: Any) -> LitexpStore:
    return write_litexp_store(tmp_path_factory.mktemp("server-store") / "mlruns")


@pytest.fixture(scope="module")
def view(lx: LitexpStore) -> Dict[str, Any]:
    return litexp_view(lx.root)


@pytest.fixture(scope="module")
def server(lx: LitexpStore, tmp_path_factory: Any) -> Iterator[str]:
    """Base URL of a running ``mlflow server`` on the litexp store."""
    log = tmp_path_factory.mktemp("server-log") / "mlflow-server.log"
    with mlflow_server(lx.root, log) as base:
        yield base


def _tags(items: List[Dict[str, str]]) -> Dict[str, str]:
    return {t["key"]: t["value"] for t in items or []}


def _search_runs(server: str, experiment_ids: List[str], **extra: Any) -> List[Dict[str, Any]]:
    runs: List[Dict[str, Any]] = []
    payload: Dict[str, Any] = {"experiment_ids": experiment_ids, "run_view_type": "ALL", "max_results": 3, **extra}
    for _ in range(100):
        page = http_json(api_url(server, "runs/search"), payload)
        runs.extend(page.get("runs", []))
        token = page.get("next_page_token")
        if not token:
            return runs
        payload["page_token"] = token
    raise AssertionError("runs/search kept paging")


def _info(run: Dict[str, Any]) -> Dict[str, Any]:
    info = run["info"]
    return {
        "run_id": info["run_id"],
        "run_name": info.get("run_name", ""),
        "experiment_id": info["experiment_id"],
        "user_id": info.get("user_id", ""),
        "status": info["status"],
        "start_time": info.get("start_time"),
        "end_time": info.get("end_time"),
        "artifact_uri": info["artifact_uri"],
        "lifecycle_stage": info["lifecycle_stage"],
    }


def _own(view: Dict[str, Any], run_id: str) -> Dict[str, Any]:
    (run,) = [r for r in view["runs"] if r["info"]["run_id"] == run_id]
    return run


def test_experiments_search(server: str, view: Dict[str, Any]) -> None:
    answer = http_json(api_url(server, "experiments/search"), {"max_results": 1000, "view_type": "ALL"})
    served = {
        e["experiment_id"]: {
            "experiment_id": e["experiment_id"],
            "name": e["name"],
            "artifact_location": e["artifact_location"],
            "lifecycle_stage": e["lifecycle_stage"],
            "creation_time": e.get("creation_time"),
            "last_update_time": e.get("last_update_time"),
            "tags": _tags(e.get("tags", [])),
        }
        for e in answer["experiments"]
    }
    assert served == {e["experiment_id"]: e for e in view["experiments"]}


def test_experiments_search_active_only(server: str, view: Dict[str, Any]) -> None:
    answer = http_json(api_url(server, "experiments/search"), {"max_results": 1000})
    names = sorted(e["name"] for e in answer["experiments"])
    assert names == sorted(e["name"] for e in view["experiments"] if e["lifecycle_stage"] == "active")


def test_runs_search(server: str, view: Dict[str, Any]) -> None:
    for exp in view["experiments"]:
        runs = _search_runs(server, [exp["experiment_id"]])
        assert [r["info"]["run_id"] for r in runs] == view["search_order"][exp["experiment_id"]]
        for run in runs:
            own = _own(view, run["info"]["run_id"])
            assert _info(run) == own["info"]
            data = run.get("data", {})
            assert _tags(data.get("params", [])) == own["params"]
            assert _tags(data.get("tags", [])) == own["tags"]
            assert {m["key"]: m["value"] for m in data.get("metrics", [])} == own["metrics"]


def test_runs_search_filter_agrees_with_litexp(server: str, lx: LitexpStore) -> None:
    R = QlibRecorder(FileExpManager(lx.uri, "Experiment"))
    main = lx.experiments["interop main"]
    for text in (
        "params.alpha = '0.5'",
        "metrics.loss < 1",
        "attributes.status != 'FINISHED'",
        "tags.`tag with space` LIKE 'h%'",
        "metrics.`val.score` < 0",
    ):
        served = [r["info"]["run_id"] for r in _search_runs(server, [main], filter=text, run_view_type="ACTIVE_ONLY")]
        own = list(R.search_records([main], filter_string=text)["run_id"])
        assert served == own, text


def test_runs_get(server: str, view: Dict[str, Any], lx: LitexpStore) -> None:
    for name, run_id in lx.runs.items():
        run = http_json(api_url(server, "runs/get", run_id=run_id))["run"]
        assert _info(run) == _own(view, run_id)["info"], name


def test_metric_histories(server: str, view: Dict[str, Any]) -> None:
    checked = 0
    for own in view["runs"]:
        for key, history in own["metric_history"].items():
            url = api_url(server, "metrics/get-history", run_id=own["info"]["run_id"], metric_key=key)
            served = [[m["timestamp"], m["value"], m.get("step", 0)] for m in http_json(url).get("metrics", [])]
            assert served == history, key
            checked += 1
    assert checked >= 8


def _served_artifacts(server: str, run_id: str, path: str = "") -> List[List[Any]]:
    query = {"run_id": run_id}
    if path:
        query["path"] = path
    out: List[List[Any]] = []
    for item in http_json(api_url(server, "artifacts/list", **query)).get("files", []):
        is_dir = bool(item.get("is_dir", False))
        out.append([item["path"], is_dir, None if is_dir else int(item.get("file_size", 0))])
        if is_dir:
            out.extend(_served_artifacts(server, run_id, item["path"]))
    return out


def test_artifact_listings(server: str, view: Dict[str, Any]) -> None:
    trashed = set(runs_of_deleted_experiments(view))
    for own in view["runs"]:
        run_id = own["info"]["run_id"]
        served = _served_artifacts(server, run_id)
        if run_id in trashed:
            assert served == []  # the documented difference: MLflow looks at the pre-delete folder
        else:
            assert served == own["artifacts"], own["info"]["run_name"]


def _get_artifact(server: str, run_id: str, path: str) -> bytes:
    query = urllib.parse.urlencode({"path": path, "run_uuid": run_id})
    return http_get(f"{server}/get-artifact?{query}")


def test_get_artifact_bytes(server: str, view: Dict[str, Any], lx: LitexpStore) -> None:
    trashed = set(runs_of_deleted_experiments(view))
    fetched = 0
    for own in view["runs"]:
        run_id = own["info"]["run_id"]
        if run_id in trashed:
            continue
        folder = lx.root / own["info"]["experiment_id"] / run_id / "artifacts"
        for path, is_dir, _ in own["artifacts"]:
            if not is_dir:
                assert _get_artifact(server, run_id, path) == (folder / path).read_bytes(), path
                fetched += 1
    assert fetched >= 5


def test_pickled_object_over_http(server: str, lx: LitexpStore) -> None:
    assert pickle.loads(_get_artifact(server, lx.runs["parent run"], "pred")) == {"a": 1}
    assert pickle.loads(_get_artifact(server, lx.runs["parent run"], "params.pkl")) == [1, 2]


def test_special_values_over_http(server: str, lx: LitexpStore) -> None:
    url = api_url(server, "metrics/get-history", run_id=lx.runs["parent run"], metric_key="val.score")
    values = [m["value"] for m in http_json(url)["metrics"]]
    assert values == [encode_float(float(v)) for v in ("nan", "inf", "-inf")]


def test_server_adds_its_model_registry_folder(server: str, lx: LitexpStore) -> None:
    """``mlflow server`` on a file store keeps its model registry in ``<root>/models/``."""
    http_json(api_url(server, "registered-models/search", max_results="10"))
    assert (lx.root / "models").is_dir()


def test_registry_folder_is_not_reported_as_stray(server: str, lx: LitexpStore, caplog: Any) -> None:
    http_json(api_url(server, "registered-models/search", max_results="10"))
    with caplog.at_level(logging.WARNING, logger="litexp"):
        names = [e.name for e in FileStore(str(lx.root)).list_experiments(ViewType.ALL)]
    assert "interop main" in names
    assert [r.getMessage() for r in caplog.records if "models" in r.getMessage()] == []
