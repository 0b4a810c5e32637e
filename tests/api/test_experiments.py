"""get_exp / create_exp / delete_exp / list_experiments."""

from __future__ import annotations

import os

import pytest

from litexp import ExpAlreadyExistError, FileExpManager, InvalidInputError, NotFoundError
from litexp.store import FileStore


def test_new_store_layout(R, store_dir):
    R.get_exp(experiment_name="e")
    assert (store_dir / ".trash").is_dir()
    assert (store_dir / "0" / "meta.yaml").is_file()
    store = FileStore(str(store_dir))
    assert store.get_experiment("0").name == "Default"


def test_experiment_ids_are_18_digits(R):
    exp = R.get_exp(experiment_name="e")
    assert exp.id.isdigit() and len(exp.id) == 18


def test_get_exp_create_false_missing_raises_and_creates_nothing(R, store_dir):
    with pytest.raises(ValueError):
        R.get_exp(experiment_name="nope", create=False)
    with pytest.raises(NotFoundError):
        R.get_exp(experiment_id="123", create=False)
    assert FileStore(str(store_dir)).find_experiment("nope") is None


def test_get_exp_by_id_and_name(R):
    exp = R.get_exp(experiment_name="e")
    assert R.get_exp(experiment_id=exp.id, create=False).name == "e"
    assert R.get_exp(experiment_name="e", create=False).id == exp.id


def test_get_exp_without_names_is_default_or_active(R):
    assert R.get_exp().name == "Experiment"
    with R.start(experiment_name="e"):
        assert R.get_exp().name == "e"


def test_create_exp_taken_name(uri):
    manager = FileExpManager(uri, "Experiment")
    manager.create_exp("x")
    with pytest.raises(ExpAlreadyExistError, match="already exists"):
        manager.create_exp("x")


def test_delete_and_name_reuse_rules(R, store_dir):
    exp = R.get_exp(experiment_name="e")
    with R.start(experiment_name="e"):
        rid = R.get_recorder().id
    R.delete_exp(experiment_name="e")
    assert (store_dir / ".trash" / exp.id / "meta.yaml").is_file()
    assert "e" not in R.list_experiments()
    with pytest.raises(ValueError):
        R.get_exp(experiment_name="e", create=False)
    store = FileStore(str(store_dir))
    assert store.get_experiment(exp.id).lifecycle_stage == "deleted"
    assert store.get_run(rid).lifecycle_stage == "deleted"
    # MLflow refuses to reuse the name of a deleted experiment
    with pytest.raises(ExpAlreadyExistError, match="deleted"):
        R.get_exp(experiment_name="e")
    store.restore_experiment(exp.id)
    assert R.get_exp(experiment_name="e", create=False).id == exp.id
    assert store.get_run(rid).lifecycle_stage == "active"


def test_default_experiment_cannot_be_deleted(R):
    R.get_exp(experiment_name="e")
    with pytest.raises(InvalidInputError):
        R.delete_exp(experiment_id="0")


def test_delete_missing(R):
    with pytest.raises(ValueError):
        R.delete_exp(experiment_name="missing")


def test_list_experiments(R):
    R.get_exp(experiment_name="a")
    R.get_exp(experiment_name="b")
    exps = R.list_experiments()
    assert set(exps) == {"Default", "a", "b"}
    assert exps["a"].name == "a"


def test_list_experiments_filter(uri):
    manager = FileExpManager(uri, "Experiment")
    manager.create_exp("alpha-1")
    manager.create_exp("beta")
    assert set(manager.list_experiments(filter_string="name LIKE 'alpha%'")) == {"alpha-1"}


@pytest.mark.parametrize("name", ["", "   ", "x" * 501, 5])
def test_bad_experiment_names(R, name):
    with pytest.raises(InvalidInputError):
        R.get_exp(experiment_name=name)


def test_names_with_quotes_and_slashes(R, store_dir):
    for name in ["it's", 'say "hi"', "a/b", "../up", "ünï"]:
        exp = R.get_exp(experiment_name=name)
        assert R.get_exp(experiment_name=name, create=False).id == exp.id
    assert sorted(os.listdir(store_dir.parent)) == ["cwd", "mlruns"]


def test_experiment_info(R):
    with R.start(experiment_name="e") as exp:
        info = exp.info
        assert info["class"] == "Experiment"  # as Qlib's experiments report
        assert info["name"] == "e" and info["id"] == exp.id
        assert info["active_recorder"] == R.get_recorder().id
        assert info["recorders"] == [R.get_recorder().id]


def test_unlimited_lists_every_recorder(R):
    for _ in range(3):
        with R.start(experiment_name="e"):
            pass
    exp = R.get_exp(experiment_name="e")
    assert exp.UNLIMITED is None  # no cap (Qlib's MLflow class caps at 50,000)
    assert len(exp.list_recorders(max_results=exp.UNLIMITED)) == 3


def test_experiment_tags(store_dir):
    store = FileStore(str(store_dir))
    exp, created = store.get_or_create_experiment("t")
    assert created
    store.set_experiment_tag(exp.experiment_id, "team", "quant")
    assert store.get_experiment(exp.experiment_id).tags == {"team": "quant"}
    assert store.get_or_create_experiment("t") == (store.get_experiment(exp.experiment_id), False)
