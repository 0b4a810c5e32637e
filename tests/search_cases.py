"""The inputs of the search tests, shared with ``tools/make_search_corpus.py``.

Standard library only (no pytest, hypothesis, MLflow or litexp), so the corpus
tool and the tests read the very same cases:

* hand-written filters, order_by items, run sets and experiments, with the
  answers the tests expect where they spell them out;
* generators of MLflow's filter grammar, written once against a small
  :class:`Chooser` interface. ``search_support`` drives them with Hypothesis
  (the live tests); the corpus tool drives them with :class:`RandomChooser`
  and a fixed seed (the frozen sample in ``tests/data/search_corpus/``).

Changing anything here that the corpus records (a case, a generator, a seed)
needs ``tools/make_search_corpus.py`` to be run again;
``test_search_corpus.py`` fails until it is.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

T = TypeVar("T")

NAN = float("nan")
INF = float("inf")

METRIC_KEYS = ["m1", "m2", "loss.val", "f1 score", "acc"]
PARAM_KEYS = ["p1", "p2", "lr", "opt.name"]
TAG_KEYS = ["t1", "t2", "team", "note"]
METRIC_VALUES = [-1.5, 0.0, 0.5, 1.0, 2.0, 10.0, 1e-3, NAN, INF, -INF]
STRING_VALUES = ["a", "b", "A", "ab", "abc", "a%b", "x_y", "1", "10", "2", " a", "Ab", "it's", "xa", "aa"]
START_TIMES = [1000, 1001, 1001, 1002, 1003, 1003, 1005]
STATUSES = ["FINISHED", "FAILED", "KILLED"]
RUN_NAMES = [None, "r0", "r1", "r2", "run-a", "Run_B"]


# ------------------------------------------------------------------ choosers
class Chooser:
    """The draws the generators make; Hypothesis or a seeded ``random.Random`` answers them."""

    def choice(self, items: Sequence[T]) -> T:
        raise NotImplementedError

    def integer(self, low: int, high: int) -> int:
        raise NotImplementedError

    def boolean(self) -> bool:
        raise NotImplementedError

    def optional(self, make: Callable[["Chooser"], T]) -> Optional[T]:
        """``None`` or ``make(self)``."""
        raise NotImplementedError

    def many(self, make: Callable[["Chooser"], T], min_size: int, max_size: int) -> List[T]:
        raise NotImplementedError

    def mapping(self, keys: Sequence[str], make: Callable[["Chooser"], T], max_size: int) -> Dict[str, T]:
        """Up to ``max_size`` distinct keys from ``keys``, each with a value from ``make``."""
        raise NotImplementedError


class RandomChooser(Chooser):
    """Draws from ``random.Random(seed)``: the same seed, the same cases, on every Python 3."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def choice(self, items: Sequence[T]) -> T:
        return self.rng.choice(list(items))

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def boolean(self) -> bool:
        return self.rng.randint(0, 1) == 1

    def optional(self, make: Callable[[Chooser], T]) -> Optional[T]:
        return None if self.boolean() else make(self)

    def many(self, make: Callable[[Chooser], T], min_size: int, max_size: int) -> List[T]:
        return [make(self) for _ in range(self.integer(min_size, max_size))]

    def mapping(self, keys: Sequence[str], make: Callable[[Chooser], T], max_size: int) -> Dict[str, T]:
        distinct = list(dict.fromkeys(keys))
        chosen = self.rng.sample(distinct, self.integer(0, min(max_size, len(distinct))))
        return {key: make(self) for key in chosen}


def query_key(
    filter_string: Optional[str],
    order_by: Optional[Sequence[str]],
    view_type: int,
    max_results: Optional[int] = None,
    page_token: Optional[str] = None,
) -> str:
    """How the corpus names one search (the tool records by it, the tests look up by it)."""
    return json.dumps([filter_string, None if order_by is None else list(order_by), view_type, max_results, page_token])


# ------------------------------------------------------------------ run sets
@dataclass
class RunSpec:
    """One run to write with MlflowClient: metrics are ``key -> [(value, timestamp offset, step)]``."""

    exp: int
    start_time: int
    name: Optional[str]
    metrics: Dict[str, List[Tuple[float, int, int]]] = field(default_factory=dict)
    params: Dict[str, str] = field(default_factory=dict)
    tags: Dict[str, str] = field(default_factory=dict)
    dataset: Optional[Tuple[str, str, Optional[str]]] = None
    end: Optional[Tuple[str, int]] = None
    deleted: bool = False


@dataclass
class StoreSpec:
    n_exps: int
    runs: List[RunSpec]


def _metric_point(c: Chooser) -> Tuple[float, int, int]:
    return (c.choice(METRIC_VALUES), c.integer(1, 3), c.integer(0, 2))


def _dataset(c: Chooser) -> Tuple[str, str, Optional[str]]:
    return (c.choice(["ds", "train_ds", "DS2"]), c.choice(["abc", "d1"]), c.choice([None, "train", "eval"]))


def _end(c: Chooser) -> Tuple[str, int]:
    return (c.choice(STATUSES), c.integer(1000, 1010))


def gen_run_spec(c: Chooser, n_exps: int) -> RunSpec:
    """A run with missing keys, NaN and infinite metrics, ties in start_time, maybe deleted."""
    return RunSpec(
        exp=c.integer(0, n_exps - 1),
        start_time=c.choice(START_TIMES),
        name=c.choice(RUN_NAMES),
        metrics=c.mapping(METRIC_KEYS, lambda c2: c2.many(_metric_point, 1, 3), 3),
        params=c.mapping(PARAM_KEYS, lambda c2: c2.choice(STRING_VALUES), 3),
        tags=c.mapping(TAG_KEYS, lambda c2: c2.choice(STRING_VALUES), 3),
        dataset=c.optional(_dataset),
        end=c.optional(_end),
        deleted=c.boolean(),
    )


def gen_store_spec(c: Chooser, max_runs: int = 8) -> StoreSpec:
    n_exps = c.integer(1, 3)
    return StoreSpec(n_exps, c.many(lambda c2: gen_run_spec(c2, n_exps), 0, max_runs))


# ------------------------------------------------------------ filter grammar
ENTITY_ALIASES = {
    "metric": ["metrics", "metric", "`metrics`"],
    "param": ["params", "param", "parameter", "parameters"],
    "tag": ["tags", "tag"],
    "attr": ["", "attributes.", "attribute.", "attr.", "run."],
    "dataset": ["datasets", "dataset"],
}
NUMBERS = ["0", "1", "2", "-1", "10", "0.5", ".5", "1.", "1e-3", "1E1", "-0", "-1.5", "0.001", "00002"]
BAD_NUMBERS = ["'1'", "nan", "+1", "1e+3", "0x1", "1a", "inf", "- 1"]
METRIC_OPS = [">", ">=", "<", "<=", "=", "!="]
BAD_METRIC_OPS = ["==", "<>", "LIKE", "=>", "~"]
STRING_OPS = ["=", "!=", "LIKE", "ILIKE", "like", "ilike"]
BAD_STRING_OPS = [">", "<=", "==", "NOT LIKE", "RLIKE"]
PATTERNS = ["%a%", "a%", "%b", "_b", "A%", "%", "a_", "%a%b%", "%'s", "x\\_y", "%A"]
BAD_CLAUSES = [
    "metrics.m1",
    "foo.a = 'x'",
    "experiment_id = '1'",
    "lifecycle_stage = 'active'",
    "name = 'x'",
    "METRICS.m1 > 1",
    "metrics.m1 > 1 OR",
    "1 > metrics.m1",
    "params.p1 = 'a' = 'b'",
    "metrics.m1 > 1;",
    "(metrics.m1 > 1",
    "metrics.m1 > 1)",
    "params.p1 = 'a",
    "metrics.as > 1",
    "metrics.m1 -- x",
    "tags.t1 = 'a' tags.t2 IS NULL",
    "params.p1 = 'x' params.p2 IS NOT NULL",
    "metrics.m1 > 1 metrics.m2 < 2",
    "run_id IN ('a') params.p1 IS NULL",
    "run_id IN ('a') params.p1 = 'a'",
    "metrics. m1 > 0",
    "metrics.* > 1",
    'params.p1 = "a"."b"',
    "AND",
    "params.p1 IS",
    "params.p1 IN 'a'",
    "run_id IN ()",
    "run_id IN (1)",
    "run_id IN ('a' 'b')",
    "run_id IN (('x'))",
    "tags.t1 LIKE b tags.t2 IS NULL",
]


def _quote(value: str, style: int) -> str:
    if style == 1 and '"' not in value:
        return '"' + value + '"'
    return "'" + value + "'"


def _key(key: str, style: int) -> str:
    if style == 1 or " " in key:
        return "`" + key + "`"
    if style == 2:
        return '"' + key + '"'
    return key


def gen_clause(c: Chooser, run_ids: Sequence[str] = ()) -> str:
    """One clause drawn from MLflow's grammar, sometimes deliberately wrong."""
    kind = c.choice(
        [
            "metric",
            "metric",
            "param",
            "param",
            "tag",
            "tag",
            "attr_str",
            "attr_num",
            "dataset",
            "run_id_list",
            "is_null",
            "in_list",
            "bad",
        ]
    )
    bad = c.integer(0, 9) == 0
    if kind == "metric":
        alias = c.choice(ENTITY_ALIASES["metric"])
        key = _key(c.choice(METRIC_KEYS + ["missing"]), c.integer(0, 3))
        op = c.choice(BAD_METRIC_OPS if bad else METRIC_OPS)
        num = c.choice(BAD_NUMBERS if c.integer(0, 12) == 0 else NUMBERS)
        return f"{alias}.{key} {op} {num}"
    if kind in ("param", "tag"):
        alias = c.choice(ENTITY_ALIASES[kind])
        keys = PARAM_KEYS if kind == "param" else TAG_KEYS + ["mlflow.runName"]
        key = _key(c.choice(keys + ["missing"]), c.integer(0, 3))
        op = c.choice(BAD_STRING_OPS if bad else STRING_OPS)
        if op.upper() in ("LIKE", "ILIKE") and c.boolean():
            value = c.choice(PATTERNS)
        else:
            value = c.choice(STRING_VALUES + ["r0", "run-a"])
        quoted = _quote(value, c.integer(0, 1))
        if c.integer(0, 15) == 0:
            quoted = c.choice(["a", "`a`", "1", "('a')", "NULL"])
        return f"{alias}.{key} {op} {quoted}"
    if kind == "attr_str":
        alias = c.choice(ENTITY_ALIASES["attr"])
        key = c.choice(
            [
                "run_id",
                "run_name",
                "user_id",
                "status",
                "artifact_uri",
                "`run name`",
                '"Run Name"',
                "`Run name`",
                "status",
            ]
        )
        op = c.choice(BAD_STRING_OPS if bad else STRING_OPS)
        value = c.choice(
            ["FINISHED", "RUNNING", "finished", "FAILED", "KILLED", "r0", "r%", "%a", "run-a", "Run_B", "%", "%file%"]
            + list(run_ids[:3])
        )
        return f"{alias}{key} {op} {_quote(value, c.integer(0, 1))}"
    if kind == "attr_num":
        alias = c.choice(ENTITY_ALIASES["attr"])
        key = c.choice(["start_time", "end_time", "created", "Created"])
        op = c.choice(BAD_METRIC_OPS if bad else METRIC_OPS)
        value = c.choice(["1000", "1001", "1002", "1003", "1005", "1004.5", "1e3", "0", "'1001'"])
        return f"{alias}{key} {op} {value}"
    if kind == "dataset":
        alias = c.choice(ENTITY_ALIASES["dataset"])
        key = c.choice(["name", "digest", "context", "source"])
        if c.boolean():
            neg = c.choice(["", "NOT "])
            return f"{alias}.{key} {neg}IN ('ds', 'train', 'abc')"
        op = c.choice(BAD_STRING_OPS if bad else STRING_OPS)
        value = c.choice(["ds", "train", "eval", "abc", "%ds", "D%", "d_"])
        return f"{alias}.{key} {op} {_quote(value, c.integer(0, 1))}"
    if kind == "run_id_list":
        ids = c.many(lambda c2: c2.choice(list(run_ids[:4]) + ["nope"]), 1, 3)
        neg = c.choice(["", "NOT ", "not "])
        alias = c.choice(ENTITY_ALIASES["attr"])
        items = ", ".join(_quote(i, c.integer(0, 1)) for i in ids)
        if c.integer(0, 10) == 0:
            return f"{alias}run_id {c.choice(['=', '!=', 'LIKE'])} ({items})"
        return f"{alias}run_id {neg}IN ({items})"
    if kind == "is_null":
        entity = c.choice(["metric", "param", "param", "tag", "tag", "attr", "dataset"])
        if entity == "attr":
            ident = c.choice(["end_time", "run_name", "attributes.status"])
        elif entity == "dataset":
            ident = "datasets.name"
        else:
            keys = {"metric": METRIC_KEYS, "param": PARAM_KEYS, "tag": TAG_KEYS}[entity]
            alias = c.choice(ENTITY_ALIASES[entity])
            ident = f"{alias}.{_key(c.choice(keys + ['missing']), c.integer(0, 2))}"
        return f"{ident} IS {c.choice(['NULL', 'NOT NULL', 'null', 'not null', 'NOT  NULL'])}"
    if kind == "in_list":
        entity = c.choice(["param", "tag", "metric"])
        alias = c.choice(ENTITY_ALIASES[entity])
        keys = {"metric": METRIC_KEYS, "param": PARAM_KEYS, "tag": TAG_KEYS}[entity]
        values = c.many(lambda c2: c2.choice(STRING_VALUES), 1, 3)
        neg = c.choice(["", "NOT "])
        return f"{alias}.{_key(c.choice(keys), 0)} {neg}IN ({', '.join(_quote(v, 0) for v in values)})"
    return c.choice(BAD_CLAUSES)


JOINERS = [" AND ", " AND ", " AND ", " and ", " AnD ", "  AND\n", " AND AND ", " "]


def gen_filter(c: Chooser, run_ids: Sequence[str] = ()) -> Optional[str]:
    """A filter in MLflow's grammar (joined clauses), sometimes wrong."""
    if c.integer(0, 30) == 0:
        return c.choice([None, "", " ", "AND"])
    parts = c.many(lambda c2: gen_clause(c2, run_ids), 1, 3)
    text = parts[0]
    for part in parts[1:]:
        text += c.choice(JOINERS) + part
    if c.integer(0, 20) == 0:
        text = "AND " + text
    if c.integer(0, 20) == 0:
        text = text + " AND"
    return text


ORDER_ITEMS = [
    "start_time",
    "end_time",
    "run_name",
    "status",
    "run_id",
    "user_id",
    "artifact_uri",
    "created",
    "Created",
    "attributes.start_time",
    "attr.end_time",
    "metrics.m1",
    "metrics.m2",
    "metrics.`f1 score`",
    "metrics.loss.val",
    "metric.acc",
    "params.p1",
    "params.lr",
    "param.`opt.name`",
    "tags.t1",
    "tags.team",
    "tags.mlflow.runName",
    "tags.`mlflow.runName`",
    "metrics.missing",
]
BAD_ORDER_ITEMS = [
    "experiment_id",
    "`run name`",
    "metrics.m1 DOWN",
    " metrics.m1",
    "metrics.m1,params.p1",
    "datasets.name",
    "foo.bar",
    "metrics.m1 DESC DESC",
    "(metrics.m1)",
    "",
    "metrics.m1 ASC NULLS LAST",
]


def _order_item(c: Chooser) -> str:
    if c.integer(0, 15) == 0:
        return c.choice(BAD_ORDER_ITEMS)
    return c.choice(ORDER_ITEMS) + c.choice(["", " ASC", " DESC", " desc", " asc", "  DESC"])


def gen_order_by(c: Chooser) -> Optional[List[str]]:
    if c.integer(0, 4) == 0:
        return None
    return c.many(_order_item, 0, 3)


TOKEN_SOUP = [
    "metrics.m1",
    "params.p1",
    "tags.t1",
    "run_id",
    "status",
    "start_time",
    "`run name`",
    "datasets.name",
    ">",
    ">=",
    "=",
    "!=",
    "<",
    "LIKE",
    "ILIKE",
    "==",
    "'a'",
    '"a"',
    "'%a%'",
    "1",
    "-1",
    ".5",
    "1e-3",
    "AND",
    "and",
    "OR",
    "NOT",
    "(",
    ")",
    "IS",
    "NULL",
    "NOT NULL",
    "IN",
    "NOT IN",
    ",",
    "('a', 'b')",
    ".",
    "`",
    "'",
    '"',
    ";",
    "--",
    "#",
    "DESC",
    "*",
    "+",
    "@",
    "x",
    "metrics.",
    "metrics.`a b`",
]


def gen_token_soup(c: Chooser) -> str:
    """A random sequence of grammar tokens (mostly an invalid filter)."""
    toks = c.many(lambda c2: c2.choice(TOKEN_SOUP), 1, 8)
    seps = [c.choice([" ", "", "  "]) for _ in toks]
    return "".join(t + s for t, s in zip(toks, seps)).rstrip()


# ------------------------------------------------------------ parser cases
# Filters MLflow accepts (for every store): litexp must accept them, without extensions.
PARSE_ACCEPTED = [
    "metrics.a > 1",
    "metrics.a > 1 AND",
    "AND metrics.a > 1",
    "metrics.a > 1 AND AND params.b = 'x'",
    "metrics.a > 1 and params.b = 'x'",
    "metrics.a > 1 AnD params.b = 'x'",
    "metrics.a>1",
    "metrics.a > -1",
    "metrics.a > .5",
    "metrics.a > 1.",
    "metrics.a > 1e-3",
    "metrics.a > 1E3",
    "metrics.a > -.5",
    "metrics.a > 00012",
    "metrics.a > -1e-5",
    "metrics.a >= 1 AND metrics.b <= 2 AND metrics.c != 3",
    "metrics.a = 1",
    "metrics.a < 1",
    'params.a = "x"',
    "params.a LIKE 'x%'",
    "params.a ILIKE 'x%'",
    "params.a like 'x%'",
    "params.a != ''",
    "params.a IS NULL",
    "params.a is null",
    "params.a IS NOT NULL",
    "tags.a is not null",
    "run_id IN ('a', 'b')",
    "run_id IN ('a')",
    "run_id NOT IN ('a','b')",
    "run_id = ('a')",
    "run_id != ('a', 'b')",
    "run_id IN ('a' 'b')",
    "run_id IN ('a',)",
    "run_id IN (\"a\", 'b')",
    "run_id IN (r'a')",
    "run_id IN ('\\x41')",
    "run_id IN ('it''s')",
    "run_id IN ( 'a' , 'b' )",
    "run_id IN (('a'))",
    "run_id IN(('a'),'b')",
    "status = 'FINISHED'",
    "attributes.status = 'FINISHED'",
    "attr.run_name = 'x'",
    "run.run_name = 'x'",
    "attribute.run_id = 'x'",
    "`run name` = 'x'",
    "`Run Name` = 'x'",
    "\"run name\" = 'x'",
    "`Run name` LIKE 'x'",
    "created > 0",
    "Created > 0",
    "start_time > 0",
    "start_time > 1.5",
    "end_time <= 5",
    "start_time > 1e3",
    "artifact_uri LIKE '%x'",
    "user_id = 'x'",
    "user_id ILIKE 'X'",
    "metrics.`f1 score` > 1",
    'metrics."f1 score" > 1',
    "`metrics`.a > 1",
    "`metrics`.`a` > 1",
    "metrics.'a' > 1",
    "metrics.a.b.c > 1",
    "tags.mlflow.runName = 'x'",
    "tags.\"mlflow.runName\" = 'x'",
    "tags.`mlflow.runName` = 'x'",
    "metric.a > 1",
    "parameter.a = 'x'",
    "parameters.a = 'x'",
    "param.a = 'x'",
    "tag.a = 'x'",
    "dataset.name = 'x'",
    "datasets.name = 'x'",
    "datasets.digest IN ('a','b')",
    "datasets.context LIKE 'tr%'",
    "datasets.name = ('a')",
    "datasets.name NOT IN ('a')",
    "params.a = 'it''s'",
    "params.a = 'it\\'s'",
    'params.a = "it""s"',
    "params.a = ''",
    "metrics.a > 1 metrics.b > 2",
    "params.a='x'AND params.b='y'",
    "params.a\t=\t'x'",
    "params.a\n=\n'x'",
    "metrics.1a > 1",
    "metrics.a1 > 1",
    "metrics.a..b > 1",
    "metrics.a. > 1",
    "metrics. > 1",
    "metrics.`` > 1",
    "metrics.`a-b` > 1",
    "metrics.`a/b` > 1",
    "metrics.`a b`.c > 1",
    "metrics.é > 1",
    "metrics._a > 1",
    "metrics. a > 1",
    "metrics.a .b > 1",
    "metrics.* > 1",
    "metrics.a desc > 1",
    "metrics.`a``b` > 1",
    "metrics.select > 1",
    "params.order = 'x'",
    "tags.x.and = 'x'",
    "tags.null = 'x'",
    "params.a = 'x' params.b IS NULL",
    "tags.a = 'x' tags.b IS NOT NULL",
    "tags.a = 'x' = 'y' tags.b IS NULL",
    "tags.a = 'x' status IS NULL",
    "run_id IN ('a') params.b = 'x'",
    "params.b IS NULL params.a = 'x'",
    "params.b IS NULL run_id IN ('a')",
    'params.a = "x"."y"',
    "tags.a LIKE b tags.c IS NULL",
    "AND",
    "AND AND",
    " AND ",
    "tags.`a b` = 'x'",
    "tags.'a b' = 'x'",
    "tags.t1 = 'a' AND tags.t2 = \"b\"",
    "metrics.a::int > 1",
    "run_id IN ('a' # x\n)",
    "run_id IN ('a', #x\n 'b')",
    "params.a::x IS NULL",
    "metrics.a :: int > 1",
    "params.p1 ('a', 'b')= \"a\".\"b\"",
    "metrics.f(x) > 1",
]

# Filters MLflow rejects (while parsing, or while matching a run): litexp must reject them.
PARSE_REJECTED = [
    " ",
    "\n",
    "metrics.a > +1",
    "metrics.a > - 1",
    "metrics.a > 1e+3",
    "metrics.a > 0x10",
    "metrics.a > '1'",
    "metrics.a == 1",
    "metrics.a <> 1",
    "metrics.a LIKE 1",
    "metrics.a => 1",
    "params.a = `x`",
    "params.a = x",
    "params.a = 1",
    "params.a > '1'",
    "params.a NOT LIKE 'x%'",
    "params.a RLIKE 'x'",
    "params.a is not   null",
    "params.a IS NOT\tNULL",
    "datasets.context IS NULL",
    "run_id IN ()",
    "run_id IN (1)",
    "run_id IN ('a', 1)",
    "run_id LIKE ('a')",
    "run_id ILIKE ('a')",
    "datasets.name LIKE ('a')",
    "run_name IN ('a')",
    "status IN ('a')",
    "start_time IN (1)",
    "created > '0'",
    "end_time = 'x'",
    "experiment_id = '0'",
    "lifecycle_stage = 'active'",
    "name = 'x'",
    "datasets.foo = 'x'",
    "foo.a = 'x'",
    "METRICS.a > 1",
    "metrics.a > 1;",
    "metrics.a > 1; metrics.b > 2",
    "metrics.a",
    "1 > metrics.a",
    "params.a = 'x' 'y'",
    "metrics.a>=1AND metrics.b<=2",
    "metrics.a-b > 1",
    "metrics.a/b > 1",
    "metrics.a:b > 1",
    "metrics.1 > 1",
    "metrics.a.1 > 1",
    "metrics.1.5 > 1",
    "metrics.$a > 1",
    "metrics.a$ > 1",
    "metrics . a > 1",
    "metrics .a > 1",
    "`metrics.a` > 1",
    '"metrics.a" > 1',
    '"metrics".a > 1',
    "'metrics'.a > 1",
    "'metrics.a' > 1",
    "metrics.`a`b > 1",
    "params.a = 'x''",
    "params.a = 'x",
    "params.a = \"x'",
    "params.a",
    "= 'x'",
    "metrics.a > 1 -- comment",
    "metrics.a > 1 # comment",
    "metrics.a > 1 /* c */",
    "metrics.a > .5e5",
    "metrics.a > 1.e5",
    "metrics.a > 1_000",
    "metrics.a > --1",
    "metrics.a > 1a",
    "metrics.a > nan",
    "metrics.a > inf",
    "metrics.as > 1",
    "metrics.in > 1",
    "tags.x.in = 'a'",
    "tags.case.x = 'a'",
    "params.a = 'x' run_id IN ('a')",
    "run_id IN ('a') params.b IS NULL",
    'params.a = "x".y',
    "run_id IN ('a'",
    "run_id IN 'a'",
    "run_id IN ('a'),('b')",
    "tags.a IS NOT",
    "NULL",
    "params.a IS",
    "metrics.a = 'x' = 'y'",
    "status = 'x' AND 1 tags.b IS NULL",
    "metrics.a > 1 metrics.b IS NULL",
    "metrics.a > ?",
    "metrics.a > :x",
    "params.a = %s",
    "metrics.a > 1 DESC",
    "run_id IN ('a' -- x\n)",
    "params.a = lower('x')",
    "tags.a = 'x' select IS NULL",
    "params.a = NULL",
    "datasets.name < 'a'",
    "user_id > 'a'",
    "status = 1",
    "run_id IN (b'a')",
    "run_id IN (f'a')",
]

# Filters whose clauses (entity, key, comparator, value) are compared with MLflow's own parse.
CLAUSE_CASES = PARSE_ACCEPTED[:60]

ORDER_ACCEPTED = [
    "metrics.a",
    "metrics.a DESC",
    "metrics.a desc",
    "metrics.a Asc",
    "metrics.a  DESC",
    "metrics.a\tDESC",
    'metrics.a "DESC"',
    "metrics.a `desc`",
    "metrics.`f1 score` DESC",
    "metrics.`f1 score`",
    'metrics."f1 score" ASC',
    "tags.`mlflow.runName`",
    "tags.mlflow.runName DESC",
    "attributes.start_time",
    "start_time",
    "created",
    "Created DESC",
    "run_name",
    "status",
    "end_time",
    "artifact_uri",
    "user_id",
    "run_id DESC",
    "params.a",
    "param.a",
    "metric.a",
    "attr.status",
    "run.status",
    "metrics.`it's` DESC",
]
ORDER_REJECTED = [
    " metrics.a",
    "metrics.a ",
    "",
    "metrics.a DESC NULLS LAST",
    "metrics.a DESCENDING",
    "metrics.a 'desc'",
    "`run name`",
    "experiment_id",
    "lifecycle_stage",
    "datasets.name",
    "metrics.a, metrics.b",
    "metrics.it's",
    "metrics.a b",
    "timestamp",
    "timestamp DESC",
    "metrics.a;",
    "(metrics.a)",
    "metrics.a DESC DESC",
    "metrics.as",
    "metrics.in DESC",
    "1 metrics.a",
    "metrics.a + 1",
    "foo.a",
    "METRICS.a",
]


def long_filters() -> Dict[str, str]:
    """MLflow's limits: at most 10000 SQL tokens, at most 100 levels of parentheses in a list."""
    return {
        "ok": " AND ".join(f"params.p{i} = 'v'" for i in range(1000)),  # 9997 SQL tokens
        "too_long": " AND ".join(f"params.p{i} = 'v'" for i in range(1001)),
        "nested": "run_id IN " + "(" * 100 + "'a'" + ")" * 100,
        "deeper": "run_id IN " + "(" * 101 + "'a'" + ")" * 101,
    }


# ------------------------------------------------------------ matching cases (test_search_match)
MATCH_SPEC = StoreSpec(
    2,
    [
        RunSpec(
            0,
            1000,
            "r_a",
            {"loss": [(0.5, 1, 0)], "acc": [(0.9, 1, 0)]},
            {"lr": "0.1", "opt": "adam"},
            {"team": "red"},
            end=("FINISHED", 2000),
        ),
        RunSpec(
            0,
            1001,
            "r_b",
            {"loss": [(NAN, 1, 0)]},
            {"lr": "0.01", "opt": "Adam"},
            {"team": "Blue"},
            end=("FAILED", 2100),
        ),
        RunSpec(
            0,
            1001,
            "r_c",
            {"loss": [(1.5, 1, 0)], "f1 score": [(0.7, 1, 0)], "loss.val": [(0.3, 1, 0)]},
            {"lr": "0.1"},
            {},
        ),
        RunSpec(
            0,
            1002,
            "r_d",
            {},
            {"opt": "sgd_x"},
            {"team": "red", "note": "it's"},
            dataset=("ds", "abc", "train"),
            end=("KILLED", 2200),
        ),
        RunSpec(
            0,
            999,
            "r_e",
            {"loss": [(INF, 1, 0)], "acc": [(-INF, 1, 0)]},
            {"opt.name": "a%b"},
            {"team": "x_y"},
            end=("FINISHED", 1500),
            deleted=True,
        ),
        RunSpec(1, 1003, "r_f", {"loss": [(0.25, 1, 0)]}, {"lr": "1"}, {"team": "red\n"}, dataset=("ds2", "d1", None)),
        RunSpec(1, 1001, None, {"loss": [(2.0, 5, 0), (0.1, 1, 1)]}, {}, {"team": "RED"}),
    ],
)

# (filter, the runs found, by name; "auto" is the run MLflow named), searched with view_type ALL
MATCH_CASES = [
    # metrics: latest value, missing key fails every comparator, NaN follows Python
    ("metrics.loss < 1", ["r_f", "auto", "r_a"]),
    ("metrics.loss != 0.5", ["r_f", "r_b", "r_c", "auto", "r_e"]),
    ("metrics.loss = 0.5", ["r_a"]),
    ("metrics.loss > 100", ["r_e"]),
    ("metrics.acc < -1e308", ["r_e"]),
    ("metric.`f1 score` >= .7", ["r_c"]),
    ('metrics."f1 score" > 0', ["r_c"]),
    ("metrics.loss.val = 0.3", ["r_c"]),
    ("metrics.missing != 1", []),
    # params and tags: strings, LIKE anchored and case-sensitive, ILIKE not, no escape
    ("params.lr = '0.1'", ["r_c", "r_a"]),
    ("params.lr != '0.1'", ["r_f", "r_b"]),
    ("params.opt LIKE 'a%'", ["r_a"]),
    ("params.opt ILIKE 'a%'", ["r_b", "r_a"]),
    ("params.opt LIKE '%x'", ["r_d"]),
    ("params.opt LIKE 'sgd_x'", ["r_d"]),
    ("params.opt LIKE 'sgd\\_x'", []),
    ("params.`opt.name` LIKE 'a%'", ["r_e"]),
    ("params.\"opt.name\" = 'a%b'", ["r_e"]),
    ("tags.team = 'red'", ["r_d", "r_a"]),
    ("tags.team LIKE 'red'", ["r_f", "r_d", "r_a"]),
    ("tags.team ILIKE 'red'", ["r_f", "r_d", "auto", "r_a"]),
    ("tags.team LIKE 'x_y'", ["r_e"]),
    ("tags.note = 'it''s'", []),
    ('tags.note = "it\'s"', ["r_d"]),
    ("tags.team != 'red'", ["r_f", "r_b", "auto", "r_e"]),
    ("tags.team IS NULL", ["r_c"]),
    ("params.opt IS NOT NULL", ["r_d", "r_b", "r_a"]),
    ("tags.mlflow.runName = 'r_a'", ["r_a"]),
    ("tags.`mlflow.runName` LIKE 'r\\_%'", []),
    # attributes
    ("status = 'FINISHED'", ["r_a", "r_e"]),
    ("status = 'finished'", []),
    ("attributes.status != 'RUNNING'", ["r_d", "r_b", "r_a", "r_e"]),
    ("run_name = 'r_b'", ["r_b"]),
    ("`run name` LIKE 'r\\_%'", []),
    # (not 'R_%': MLflow's random name for the unnamed run starts with an r one time in 15)
    ("\"Run Name\" ILIKE 'R__'", ["r_f", "r_d", "r_b", "r_c", "r_a", "r_e"]),
    ("attr.run_name LIKE '%_c'", ["r_c"]),
    ("end_time > 2000", ["r_d", "r_b"]),
    ("end_time != 0", ["r_d", "r_b", "r_a", "r_e"]),
    ("created >= 1001", ["r_f", "r_d", "r_b", "r_c", "auto"]),
    ("Created < 1000.5", ["r_a", "r_e"]),
    ("start_time = 1e3", ["r_a"]),
    ("run.user_id LIKE '%'", ["r_f", "r_d", "r_b", "r_c", "auto", "r_a", "r_e"]),
    ("artifact_uri LIKE '%artifacts'", ["r_f", "r_d", "r_b", "r_c", "auto", "r_a", "r_e"]),
    # datasets
    ("datasets.name = 'ds'", ["r_d"]),
    ("datasets.name LIKE 'ds%'", ["r_f", "r_d"]),
    ("datasets.context = 'train'", ["r_d"]),
    ("datasets.context != 'train'", []),
    ("dataset.digest IN ('abc', 'd1')", ["r_f", "r_d"]),
    ("datasets.name NOT IN ('ds')", ["r_f"]),
    # several clauses, MLflow's lenient AND
    ("metrics.loss < 1 AND params.lr = '0.1'", ["r_a"]),
    ("metrics.loss < 1 and tags.team = 'red' AND", ["r_a"]),
    ("AND AND metrics.loss < 1 metrics.loss > 0.3", ["r_a"]),
    ("tags.team = 'red' tags.note IS NULL", ["r_f", "r_d", "r_b", "r_c", "auto", "r_a", "r_e"]),
    ("AND", ["r_f", "r_d", "r_b", "r_c", "auto", "r_a", "r_e"]),
    ("", ["r_f", "r_d", "r_b", "r_c", "auto", "r_a", "r_e"]),
]


def run_id_filters(a: str, b: str) -> Dict[str, str]:
    """Filters naming the runs ``a`` and ``b`` by id."""
    return {
        "in_both": f"run_id IN ('{a}', \"{b}\")",
        "not_in_a": f"attributes.run_id NOT IN ('{a}')",
        "equals_a": f"run_id = '{a}'",
        "equals_list_a": f"run_id = ('{a}')",
        "not_equals_list_a": f"run_id != ('{a}')",
    }


MATCH_ORDERS = [
    None,
    [],
    ["metrics.loss"],
    ["metrics.loss DESC"],
    ["metrics.loss ASC", "params.lr DESC"],
    ["params.lr"],
    ["params.lr DESC", "tags.team"],
    ["tags.team desc"],
    ["start_time"],
    ["created DESC"],
    ["end_time"],
    ["end_time DESC"],
    ["run_name"],
    ["status DESC", "metrics.acc"],
    ["metrics.acc DESC"],
    ["metrics.`f1 score` DESC"],
    ["tags.`mlflow.runName` DESC"],
    ["attributes.run_id DESC"],
    ["metrics.missing"],
    ['metrics.loss "DESC"'],
]

# Every page of this search, for each max_results, with view_type ALL.
PAGING_FILTER = "metrics.loss > -1000 AND status != 'x'"
PAGING_ORDER = ["metrics.loss"]
PAGING_SIZES = [0, 1, 2, 3, 6, 7, 50]
MAX_PAGES = 11
VIEW_FILTER = "metrics.loss > 0"


def pages(search: Callable[[Optional[str]], Tuple[List[str], Optional[str]]], max_results: int) -> List[Any]:
    """Follow page tokens the way test_paging does: ``search(token) -> (run ids, next token)``."""
    found, token = [], None
    while True:
        page = search(token)
        found.append(page)
        token = page[1]
        if token is None or max_results == 0 or len(found) >= MAX_PAGES:
            return found


# ------------------------------------------------------------ extension cases (test_search_superset)
SUPERSET_SPEC = StoreSpec(
    1,
    [
        RunSpec(
            0, 1000, "a", {"loss": [(0.5, 1, 0)]}, {"lr": "0.1", "opt": "adam"}, {"team": "red"}, end=("FINISHED", 2000)
        ),
        RunSpec(0, 1001, "b", {"loss": [(NAN, 1, 0)]}, {"lr": "0.01"}, {"team": "blue"}, end=("FAILED", 2100)),
        RunSpec(0, 1002, "c", {"loss": [(1.5, 1, 0)], "acc": [(0.9, 1, 0)]}, {"opt": "sgd"}, {}),
        RunSpec(0, 1003, "d", {}, {"lr": "1"}, {"team": "red"}, end=("KILLED", 2200)),
    ],
)

# Three clauses in MLflow's grammar whose combinations with OR test precedence.
PRECEDENCE_ATOMS = ("metrics.loss < 1", "tags.team = 'red'", "params.lr = '1'")
# Filters in MLflow's grammar that keep their meaning in parentheses or doubly negated.
GRAMMAR_FILTERS = [
    "metrics.loss < 1 AND params.lr = '0.1'",
    "tags.team != 'red'",
    "metrics.loss != 0.5",
    "params.opt LIKE '%a%' metrics.loss >= 0",
]


def superset_mlflow_filters() -> List[str]:
    """The MLflow-grammar filters whose MLflow answers the superset tests combine."""
    a, b, c = PRECEDENCE_ATOMS
    return [f"{a} AND {b}", c] + GRAMMAR_FILTERS


ALGEBRA_ROUNDS = 5
NULL_METRIC_KEYS = ("m1", "loss.val")
IN_PARAM_KEYS = ("p1", "lr")


def algebra_mlflow_filters(a: str, b: str) -> List[str]:
    """Besides each atom: what else the boolean-algebra test asks MLflow."""
    return [f"{a} AND {b}"]


def in_list_mlflow_filters() -> List[str]:
    return [f"params.{key} = '{value}'" for key in IN_PARAM_KEYS for value in ("a", "1")]


# ------------------------------------------------------------ experiments (test_search_experiments)
EXPERIMENTS = [
    ("alpha", {"team": "red", "stage": "dev"}),
    ("beta", {"team": "blue"}),
    ("Alpha-2", {"team": "Red", "note": "it's"}),
    ("gamma_x", {}),
    ("delta", {"stage": "prod"}),
]
DELETED_EXPERIMENT = "delta"

EXP_FILTERS = [
    None,
    "",
    "name = 'alpha'",
    "name != 'alpha'",
    "name LIKE 'alpha%'",
    "name ILIKE 'alpha%'",
    "name LIKE '%_x'",
    "attribute.name = 'beta'",
    "tags.team = 'red'",
    "tag.team ILIKE 'red'",
    "tags.team != 'red'",
    "tags.stage IS NULL",
    "tags.stage IS NOT NULL",
    'tags.`note` = "it\'s"',
    "creation_time > 0",
    "creation_time < 0",
    "last_update_time >= 1",
    "name LIKE 'a%' AND tags.team = 'red'",
    "AND",
    "tags.team = 'red' tags.stage IS NULL",
    'name = "beta"',
]
EXP_ORDERS = [
    None,
    [],
    ["name"],
    ["name DESC"],
    ["creation_time"],
    ["creation_time DESC"],
    ["last_update_time DESC"],
    ["experiment_id"],
    ["experiment_id DESC", "name"],
    ["attribute.name ASC"],
]
EXP_REJECTED = [
    "metrics.a > 1",
    "params.a = 'x'",
    "attr.name = 'x'",
    "attributes.name = 'x'",
    "run_name = 'x'",
    "name IN ('a')",
    "creation_time > '1'",
    "name > 'a'",
    "tags.a > 'x'",
    "name = x",
    "`tag`.a = 'x'",
    "creation_time LIKE 1",
    " ",
]
EXP_REJECTED_ORDERS = [["tags.team"], ["run_name"], ["name DOWN"], ["metrics.a"]]


def experiment_id_filters(first: str, second: str) -> List[str]:
    return [
        f"experiment_id IN ('{first}', '{second}')",
        f"experiment_id NOT IN ('{first}')",
        f"experiment_id = '{first}'",
    ]


EXP_NAMES = ["'alpha'", "'beta'", "'a%'", "'%a%'", "'Alpha%'", "'%_x'", '"beta"']
EXP_TAGS = ["team", "stage", "note", "missing"]
EXP_ORDER_ITEMS = ["name", "name DESC", "creation_time", "experiment_id DESC", "last_update_time"]


def gen_exp_clause(c: Chooser) -> str:
    kind = c.integer(0, 3)
    if kind == 0:
        return f"{c.choice(['name', 'attribute.name'])} {c.choice(['=', '!=', 'LIKE', 'ILIKE'])} {c.choice(EXP_NAMES)}"
    if kind == 1:
        return (
            f"tags.{c.choice(EXP_TAGS)} {c.choice(['=', '!=', 'LIKE', 'ILIKE'])} "
            f"{c.choice(['%e%', 'red', 'Red', 'dev', 'prod'])!r}"
        )
    if kind == 2:
        return f"tags.{c.choice(EXP_TAGS)} IS {c.choice(['NULL', 'NOT NULL'])}"
    return (
        f"{c.choice(['creation_time', 'last_update_time'])} "
        f"{c.choice(['>', '<', '>=', '!='])} {c.choice(['0', '1', '99999999999999'])}"
    )


def gen_exp_query(c: Chooser) -> Tuple[str, Optional[List[str]]]:
    """A filter of 1 to 3 experiment clauses joined with AND, and an order_by (maybe None)."""
    clauses = c.many(gen_exp_clause, 1, 3)
    order_by = c.optional(lambda c2: c2.many(lambda c3: c3.choice(EXP_ORDER_ITEMS), 0, 2))
    return " AND ".join(clauses), order_by


# ------------------------------------------------------------ the frozen random sample
# Seeds and sizes of the sample the corpus tool records (the live tests draw their own cases).
DIFFERENTIAL_SAMPLE = {"seed": 20240601, "stores": 70, "queries_per_store": 32, "soups_per_store": 4, "max_runs": 8}
ALGEBRA_SAMPLE = {"seed": 20240602, "stores": 15, "max_runs": 7}
EXPERIMENT_SAMPLE = {"seed": 20240603, "queries": 60}
VIEW_TYPES = [1, 1, 2, 3]
MAX_RESULTS = [None, None, None, 1, 2, 3, 5]
