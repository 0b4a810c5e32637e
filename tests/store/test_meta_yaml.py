"""The fast meta.yaml path agrees with PyYAML on everything it accepts."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from litexp.store.file import meta_yaml as _meta_yaml

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.text(max_size=40),
    st.sampled_from(
        [
            "yes",
            "No",
            "ON",
            "null",
            "~",
            "1e3",
            "0x10",
            "012",
            "1:30",
            "2024-01-01",
            ".inf",
            "a: b",
            "it's",
            "'quoted'",
            "-",
            "x:",
            "file:///tmp/a b/c",
            "#c",
            "é",
            " lead",
            "trail ",
            "[]",
            "{}",
            "1e5",
            "0e0",
            "123abc",
            "0x1f",
            "e",
            "deadbeef",
            "1e",
            "07a",
            "2e5f0c1d3a4b5c6d7e8f901234567890",
        ]
    ),
    st.from_regex(r"[0-9a-fx._+-]{1,12}", fullmatch=True),
    st.just([]),
)
mappings = st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True), scalars, min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(mappings)
def test_dump_is_valid_yaml_with_same_values(data):
    text = _meta_yaml.dumps(data)
    if text is not None:
        assert yaml.safe_load(text) == data
        assert _meta_yaml.loads(text.encode()) == data


@settings(max_examples=200, deadline=None)
@given(mappings)
def test_load_agrees_with_pyyaml(data):
    text = yaml.safe_dump(data, default_flow_style=False, allow_unicode=True, sort_keys=True)
    fast = _meta_yaml.loads(text.encode())
    if fast is not None:
        assert fast == yaml.safe_load(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_disagrees(text):
    fast = _meta_yaml.loads(text.encode())
    if fast is not None:
        assert fast == yaml.safe_load(text)


def test_run_ids_starting_with_digits_take_the_fast_path():
    text = "run_id: 2e5f0c1d3a4b5c6d7e8f901234567890\nrun_uuid: 0123456789abcdef0123456789abcdef\n"
    assert _meta_yaml.loads(text.encode()) == yaml.safe_load(text)


def test_mlflow_style_meta_takes_the_fast_path():
    text = (
        "artifact_uri: file:///tmp/mlruns/1/abc/artifacts\nend_time: null\nentry_point_name: ''\n"
        "experiment_id: '1'\nlifecycle_stage: active\nrun_id: abc\nrun_name: my-run\nrun_uuid: abc\n"
        "source_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: 1795884847242\nstatus: 1\n"
        "tags: []\nuser_id: alice\n"
    )
    assert _meta_yaml.loads(text.encode()) == yaml.safe_load(text)
