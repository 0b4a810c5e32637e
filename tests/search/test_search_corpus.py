"""The frozen search corpus is still what the installed MLflow says.

``tests/data/search_corpus/`` holds MLflow's verdicts on the search tests' cases, so the
filter-language tests run without MLflow. This test (which needs MLflow; it skips
without it) rebuilds the whole corpus in memory with ``tools/make_search_corpus.py``
and compares it with the files: a new case, a changed generator or another MLflow
release fails here until the tool is run again.
"""

from __future__ import annotations

import json
from typing import Any, List

import pytest
import search_support as sup


def _differences(want: Any, got: Any, path: str = "", found: List[str] = None, limit: int = 5) -> List[str]:
    """Where two JSON values differ (the first few places)."""
    found = [] if found is None else found
    if len(found) >= limit:
        return found
    if isinstance(want, dict) and isinstance(got, dict):
        for key in list(dict.fromkeys(list(want) + list(got))):
            if key not in want or key not in got:
                found.append(f"{path}/{key}: only in the {'frozen' if key in want else 'rebuilt'} corpus")
            else:
                _differences(want[key], got[key], f"{path}/{key}", found, limit)
    elif isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (a, b) in enumerate(zip(want, got)):
            _differences(a, b, f"{path}[{i}]", found, limit)
    elif want != got:
        found.append(f"{path}: frozen {json.dumps(want)[:200]} != now {json.dumps(got)[:200]}")
    return found[:limit]


@pytest.fixture(scope="module")
def rebuilt():
    sup.requires_mlflow("needs MLflow installed: compares the frozen search corpus with the installed MLflow")
    tool = sup.corpus_tool()
    return tool, tool.build_corpus()


def test_corpus_files_are_the_tools(rebuilt):
    tool, corpus = rebuilt
    assert sorted(corpus) == sorted(tool.FILES)
    on_disk = sorted(p.name for p in sup.CORPUS_DIR.glob("*.json"))
    assert on_disk == sorted(tool.FILES), f"unexpected files in {sup.CORPUS_DIR}: {sup.REFRESH}"


@pytest.mark.parametrize("name", ["parse.json", "runs.json", "random_runs.json", "experiments.json"])
def test_frozen_corpus_equals_installed_mlflow(rebuilt, name):
    import mlflow

    tool, corpus = rebuilt
    frozen = sup.corpus(name[: -len(".json")])
    now = json.loads(tool.format_json(corpus[name]))
    if frozen != now:
        pytest.fail(
            f"{name} is stale (frozen with MLflow {frozen.get('mlflow_version')}, installed "
            f"{mlflow.__version__}): {sup.REFRESH}\n  " + "\n  ".join(_differences(frozen, now))
        )
