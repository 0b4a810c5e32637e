"""Hand-written parser cases: acceptance parity with real MLflow, parsed values, messages."""

from __future__ import annotations

import pytest

import search_support as sup
from litexp.errors import LitexpError, SearchSyntaxError
from litexp.search import needed_keys, parse_filter, parse_order_by

# Filters MLflow accepts (for every store): litexp must accept them, without extensions.
ACCEPTED = [
    "metrics.a > 1", "metrics.a > 1 AND", "AND metrics.a > 1", "metrics.a > 1 AND AND params.b = 'x'",
    "metrics.a > 1 and params.b = 'x'", "metrics.a > 1 AnD params.b = 'x'", "metrics.a>1", "metrics.a > -1",
    "metrics.a > .5", "metrics.a > 1.", "metrics.a > 1e-3", "metrics.a > 1E3", "metrics.a > -.5", "metrics.a > 00012",
    "metrics.a > -1e-5", "metrics.a >= 1 AND metrics.b <= 2 AND metrics.c != 3", "metrics.a = 1", "metrics.a < 1",
    "params.a = \"x\"", "params.a LIKE 'x%'", "params.a ILIKE 'x%'", "params.a like 'x%'", "params.a != ''",
    "params.a IS NULL", "params.a is null", "params.a IS NOT NULL", "tags.a is not null",
    "run_id IN ('a', 'b')", "run_id IN ('a')", "run_id NOT IN ('a','b')", "run_id = ('a')", "run_id != ('a', 'b')",
    "run_id IN ('a' 'b')", "run_id IN ('a',)", "run_id IN (\"a\", 'b')", "run_id IN (r'a')", "run_id IN ('\\x41')",
    "run_id IN ('it''s')", "run_id IN ( 'a' , 'b' )", "run_id IN (('a'))", "run_id IN(('a'),'b')",
    "status = 'FINISHED'", "attributes.status = 'FINISHED'", "attr.run_name = 'x'", "run.run_name = 'x'",
    "attribute.run_id = 'x'", "`run name` = 'x'", "`Run Name` = 'x'", "\"run name\" = 'x'", "`Run name` LIKE 'x'",
    "created > 0", "Created > 0", "start_time > 0", "start_time > 1.5", "end_time <= 5", "start_time > 1e3",
    "artifact_uri LIKE '%x'", "user_id = 'x'", "user_id ILIKE 'X'", "metrics.`f1 score` > 1",
    "metrics.\"f1 score\" > 1", "`metrics`.a > 1", "`metrics`.`a` > 1", "metrics.'a' > 1", "metrics.a.b.c > 1",
    "tags.mlflow.runName = 'x'", "tags.\"mlflow.runName\" = 'x'", "tags.`mlflow.runName` = 'x'", "metric.a > 1",
    "parameter.a = 'x'", "parameters.a = 'x'", "param.a = 'x'", "tag.a = 'x'", "dataset.name = 'x'",
    "datasets.name = 'x'", "datasets.digest IN ('a','b')", "datasets.context LIKE 'tr%'", "datasets.name = ('a')",
    "datasets.name NOT IN ('a')", "params.a = 'it''s'", "params.a = 'it\\'s'", "params.a = \"it\"\"s\"",
    "params.a = ''", "metrics.a > 1 metrics.b > 2", "params.a='x'AND params.b='y'", "params.a\t=\t'x'",
    "params.a\n=\n'x'", "metrics.1a > 1", "metrics.a1 > 1", "metrics.a..b > 1", "metrics.a. > 1", "metrics. > 1",
    "metrics.`` > 1", "metrics.`a-b` > 1", "metrics.`a/b` > 1", "metrics.`a b`.c > 1", "metrics.é > 1",
    "metrics._a > 1", "metrics. a > 1", "metrics.a .b > 1", "metrics.* > 1", "metrics.a desc > 1",
    "metrics.`a``b` > 1", "metrics.select > 1", "params.order = 'x'", "tags.x.and = 'x'", "tags.null = 'x'",
    "params.a = 'x' params.b IS NULL", "tags.a = 'x' tags.b IS NOT NULL", "tags.a = 'x' = 'y' tags.b IS NULL",
    "tags.a = 'x' status IS NULL", "run_id IN ('a') params.b = 'x'", "params.b IS NULL params.a = 'x'",
    "params.b IS NULL run_id IN ('a')", "params.a = \"x\".\"y\"", "tags.a LIKE b tags.c IS NULL", "AND",
    "AND AND", " AND ", "tags.`a b` = 'x'", "tags.'a b' = 'x'", "tags.t1 = 'a' AND tags.t2 = \"b\"",
    "metrics.a::int > 1", "run_id IN ('a' # x\n)", "run_id IN ('a', #x\n 'b')", "params.a::x IS NULL",
    "metrics.a :: int > 1",
    "params.p1 ('a', 'b')= \"a\".\"b\"", "metrics.f(x) > 1",
]

# Filters MLflow rejects (while parsing, or while matching a run): litexp must reject them.
REJECTED = [
    " ", "\n", "metrics.a > +1", "metrics.a > - 1", "metrics.a > 1e+3", "metrics.a > 0x10", "metrics.a > '1'",
    "metrics.a == 1", "metrics.a <> 1", "metrics.a LIKE 1", "metrics.a => 1", "params.a = `x`", "params.a = x",
    "params.a = 1", "params.a > '1'", "params.a NOT LIKE 'x%'", "params.a RLIKE 'x'", "params.a is not   null",
    "params.a IS NOT\tNULL", "datasets.context IS NULL", "run_id IN ()", "run_id IN (1)", "run_id IN ('a', 1)",
    "run_id LIKE ('a')", "run_id ILIKE ('a')", "datasets.name LIKE ('a')", "run_name IN ('a')", "status IN ('a')",
    "start_time IN (1)", "created > '0'", "end_time = 'x'", "experiment_id = '0'", "lifecycle_stage = 'active'",
    "name = 'x'", "datasets.foo = 'x'", "foo.a = 'x'", "METRICS.a > 1", "metrics.a > 1;",
    "metrics.a > 1; metrics.b > 2", "metrics.a", "1 > metrics.a", "params.a = 'x' 'y'", "metrics.a>=1AND metrics.b<=2",
    "metrics.a-b > 1", "metrics.a/b > 1", "metrics.a:b > 1", "metrics.1 > 1", "metrics.a.1 > 1", "metrics.1.5 > 1",
    "metrics.$a > 1", "metrics.a$ > 1", "metrics . a > 1", "metrics .a > 1", "`metrics.a` > 1", "\"metrics.a\" > 1",
    "\"metrics\".a > 1", "'metrics'.a > 1", "'metrics.a' > 1", "metrics.`a`b > 1", "params.a = 'x''",
    "params.a = 'x", "params.a = \"x'", "params.a", "= 'x'", "metrics.a > 1 -- comment", "metrics.a > 1 # comment",
    "metrics.a > 1 /* c */", "metrics.a > .5e5", "metrics.a > 1.e5", "metrics.a > 1_000", "metrics.a > --1",
    "metrics.a > 1a", "metrics.a > nan", "metrics.a > inf", "metrics.as > 1", "metrics.in > 1", "tags.x.in = 'a'",
    "tags.case.x = 'a'", "params.a = 'x' run_id IN ('a')", "run_id IN ('a') params.b IS NULL",
    "params.a = \"x\".y", "run_id IN ('a'", "run_id IN 'a'", "run_id IN ('a'),('b')", "tags.a IS NOT", "NULL",
    "params.a IS", "metrics.a = 'x' = 'y'", "status = 'x' AND 1 tags.b IS NULL", "metrics.a > 1 metrics.b IS NULL",
    "metrics.a > ?", "metrics.a > :x", "params.a = %s", "metrics.a > 1 DESC", "run_id IN ('a' -- x\n)",
    "params.a = lower('x')", "tags.a = 'x' select IS NULL", "params.a = NULL",
    "datasets.name < 'a'", "user_id > 'a'", "status = 1", "run_id IN (b'a')", "run_id IN (f'a')",
]


@pytest.mark.parametrize("filter_string", ACCEPTED)
def test_accepted_like_mlflow(filter_string):
    assert sup.mlflow_accepts_filter(filter_string), "test premise: MLflow accepts it"
    parsed = parse_filter(filter_string)
    assert not parsed.extensions


@pytest.mark.parametrize("filter_string", REJECTED)
def test_rejected_like_mlflow(filter_string):
    assert not sup.mlflow_accepts_filter(filter_string), "test premise: MLflow rejects it"
    with pytest.raises(SearchSyntaxError) as info:
        parse_filter(filter_string)
    assert str(info.value).startswith("at column ")
    assert isinstance(info.value, LitexpError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("filter_string", ACCEPTED[:60])
def test_clauses_equal_mlflows(filter_string):
    """Entity, key, comparator and value agree with MLflow's own parse."""
    from mlflow.utils.search_utils import SearchUtils

    theirs = SearchUtils.parse_search_filter(filter_string)
    ours = parse_filter(filter_string).clauses
    assert len(ours) == len(theirs)
    for clause, ref in zip(ours, theirs):
        assert clause.entity == ref["type"]
        assert clause.key == SearchUtils.translate_key_alias(ref["key"])
        assert clause.comparator == ref["comparator"].upper()
        value = ref["value"]
        if ref["type"] == "metric":
            value = float(value)
        assert clause.value == value


def test_empty_filters_select_everything():
    for f in (None, "", "AND", " AND AND "):
        assert parse_filter(f).root is None


@pytest.mark.parametrize("filter_string,message", [
    ("params.lr = 0.1", "at column 13: expected a quoted string after 'params.lr =', found '0.1'"),
    ("metrics.loss < '1'", "at column 16: expected a number after 'metrics.loss <'"),
    ("params.p > '1'", "at column 10: '>' is not a valid comparator for params"),
    ("metrics.x == 1", "at column 11: '==' is not a valid comparator for metrics"),
    ("status = 'A' AND foo.x = 'y'", "at column 18: unknown entity 'foo'"),
    ("experiment_id = '1'", "at column 1: unknown attribute 'experiment_id'"),
    ("metrics.a > 1 AND (metrics.b > 2", "at column 19: '(' is never closed"),
    ("metrics.a > 1)", "at column 14: ')' without a matching '('"),
    ("metrics.a > 1 -- why", "at column 15: comments are not allowed"),
    ("params.a IS NOT  NULL", "at column 13: write IS NOT NULL with exactly one space"),
    ("run_name IN ('a')", "at column 13: only run_id can be compared with a list"),
    ("run_id IN ()", "at column 11: empty list"),
    ("metrics.a > 1 OR", "at column 15: expected a condition after OR"),
    ("params.a = 'x' params.b = 'y' params.c IN ('a')", "join conditions with AND"),
    (" ", "at column 1: the filter is only whitespace"),
])
def test_error_messages(filter_string, message):
    with pytest.raises(SearchSyntaxError) as info:
        parse_filter(filter_string)
    assert message in str(info.value)


def test_type_errors_are_found_before_any_run_is_read():
    """MLflow only notices these while matching runs; litexp refuses them on an empty run list too."""
    from litexp.search import search_runs

    for f in ("params.p > '1'", "metrics.x == 1", "metrics.a > 5 AND params.p > '1'", "run_id LIKE ('a')",
              "datasets.name >= 'x'", "tags.t NOT LIKE 'x'"):
        with pytest.raises(SearchSyntaxError):
            search_runs([], f)


def test_filter_type_is_checked():
    with pytest.raises(SearchSyntaxError):
        parse_filter(12)  # type: ignore[arg-type]


ORDER_ACCEPTED = [
    "metrics.a", "metrics.a DESC", "metrics.a desc", "metrics.a Asc", "metrics.a  DESC", "metrics.a\tDESC",
    'metrics.a "DESC"', "metrics.a `desc`", "metrics.`f1 score` DESC", "metrics.`f1 score`", 'metrics."f1 score" ASC',
    "tags.`mlflow.runName`", "tags.mlflow.runName DESC", "attributes.start_time", "start_time", "created",
    "Created DESC", "run_name", "status", "end_time", "artifact_uri", "user_id", "run_id DESC", "params.a",
    "param.a", "metric.a", "attr.status", "run.status", "metrics.`it's` DESC",
]
ORDER_REJECTED = [
    " metrics.a", "metrics.a ", "", "metrics.a DESC NULLS LAST", "metrics.a DESCENDING", "metrics.a 'desc'",
    "`run name`", "experiment_id", "lifecycle_stage", "datasets.name", "metrics.a, metrics.b", "metrics.it's",
    "metrics.a b", "timestamp", "timestamp DESC", "metrics.a;", "(metrics.a)", "metrics.a DESC DESC", "metrics.as",
    "metrics.in DESC", "1 metrics.a", "metrics.a + 1", "foo.a", "METRICS.a",
]


@pytest.mark.parametrize("item", ORDER_ACCEPTED)
def test_order_by_accepted_like_mlflow(item):
    from mlflow.utils.search_utils import SearchUtils

    assert sup.mlflow_accepts_order([item])
    ours = parse_order_by([item]).keys[0]
    entity, key, ascending = SearchUtils.parse_order_by_for_search_runs(item)
    assert (ours.entity, ours.key, ours.ascending) == (entity, SearchUtils.translate_key_alias(key), ascending)


@pytest.mark.parametrize("item", ORDER_REJECTED)
def test_order_by_rejected_like_mlflow(item):
    assert not sup.mlflow_accepts_order([item])
    with pytest.raises(SearchSyntaxError):
        parse_order_by([item])


@pytest.mark.parametrize("order_by", ["metrics.a", 5, [5], [None]])
def test_order_by_must_be_a_list_of_strings(order_by):
    with pytest.raises(SearchSyntaxError):
        parse_order_by(order_by)


def test_needed_keys():
    usage = needed_keys(parse_filter("metrics.a > 1 AND params.`p q` = 'x' AND tags.t IS NULL AND run_name = 'r'"),
                        parse_order_by(["metrics.b DESC", "tags.u"]))
    assert usage.metrics == {"a", "b"}
    assert usage.params == {"p q"}
    assert usage.tags == {"t", "u", "mlflow.runName"}
    assert usage.datasets is False
    assert needed_keys(parse_filter("datasets.name = 'x'"), None).datasets is True
    assert needed_keys(None, None).metrics == frozenset()
