"""Checks applied to every name and value before anything is written.

The rules are MLflow's (so that MLflow can read what litexp writes), made a
little stricter where MLflow would let a key escape its folder.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import posixpath
import re
from typing import Any, Dict, Mapping, Optional, Set, Tuple, cast

from ..errors import InvalidInputError
from ..records import RUN_NAME_TAG

logger = logging.getLogger("litexp")

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500

_KEY_RE = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_EXPERIMENT_ID_RE = re.compile(r"^[0-9]{1,32}$")


_valid_keys: Set[str] = set()


def validate_key(key: Any, kind: str) -> str:
    """Return ``key`` if it is a valid metric/param/tag name, else raise.

    Valid: a non-empty string of letters, digits, ``_ - . / :`` and spaces, at
    most 250 characters, already normalised (no ``//``, ``./``, ``..`` parts,
    no leading or trailing ``/``).
    """
    if type(key) is str and key in _valid_keys:
        return key
    if not isinstance(key, str):
        raise InvalidInputError(f"{kind} key must be a string, got {type(key).__name__}: {key!r}.")
    if not key:
        raise InvalidInputError(f"{kind} key must not be empty.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInputError(
            f"{kind} key {key[:40]!r}... is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}."
        )
    if not _KEY_RE.match(key):
        raise InvalidInputError(f"Invalid {kind} key {key!r}: use only letters, digits, spaces and _ - . / :")
    parts = key.split("/")
    if (
        posixpath.normpath(key) != key
        or key.startswith("/")
        or key.startswith("..")
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise InvalidInputError(
            f"Invalid {kind} key {key!r}: it must be a plain relative name without '.', '..' or empty path parts."
        )
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def validate_run_id(run_id: Any) -> str:
    """Raise unless ``run_id`` looks like a run id (no separators, no dots)."""
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise InvalidInputError(f"Invalid recorder id {run_id!r}: expected a run id such as 32 hex digits.")
    return run_id


def validate_experiment_id(experiment_id: Any) -> str:
    """Raise unless ``experiment_id`` is a string or int of digits."""
    if isinstance(experiment_id, bool):
        raise InvalidInputError(f"Invalid experiment id {experiment_id!r}.")
    if isinstance(experiment_id, int):
        experiment_id = str(experiment_id)
    if not isinstance(experiment_id, str) or not _EXPERIMENT_ID_RE.match(experiment_id):
        raise InvalidInputError(f"Invalid experiment id {experiment_id!r}: expected a string of digits.")
    return experiment_id


def validate_experiment_name(name: Any) -> str:
    if not isinstance(name, str):
        raise InvalidInputError(f"Experiment name must be a string, got {type(name).__name__}.")
    if not name.strip():
        raise InvalidInputError("Experiment name must not be empty.")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidInputError(
            f"Experiment name is {len(name)} characters long; the limit is {MAX_EXPERIMENT_NAME_LENGTH}."
        )
    if "\x00" in name:
        raise InvalidInputError("Experiment name must not contain NUL characters.")
    return name


def metric_value(key: str, value: Any) -> float:
    """Convert a metric value to float; refuse strings, None and bools.

    NaN and infinities are accepted, as MLflow does.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise InvalidInputError(f"Metric {key!r} must be a number, got {type(value).__name__}: {value!r:.60}.")
    try:
        result = float(cast(Any, value))  # numbers.Number does not declare __float__
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInputError(f"Metric {key!r} value {value!r:.60} is not a real number.") from exc
    return result


def integer(value: Any, what: str) -> int:
    """Accept ints (and integral numbers such as numpy ints); refuse the rest."""
    if isinstance(value, bool):
        raise InvalidInputError(f"{what} must be an integer, got a bool.")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer():
        return int(cast(Any, value))  # numbers.Real does not declare __int__
    raise InvalidInputError(f"{what} must be an integer, got {type(value).__name__}: {value!r:.60}.")


def text_value(key: str, value: Any, kind: str, limit: int) -> str:
    """``str(value)`` for a param or tag, truncated (with a warning) past ``limit``.

    Long values are truncated, as MLflow does, rather than refused.
    """
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        raise InvalidInputError(f"{kind} {key!r} value contains a NUL character.")
    if len(text) > limit:
        logger.warning("%s %r value is %d characters long; truncated to the limit of %d.", kind, key, len(text), limit)
        text = text[:limit]
    return text


def param_value(key: str, value: Any) -> str:
    return text_value(key, value, "Param", MAX_PARAM_VALUE_LENGTH)


def tag_value(key: str, value: Any) -> str:
    return text_value(key, value, "Tag", MAX_TAG_VALUE_LENGTH)


def params(values: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """Checked param keys with their values as text (long values truncated, as MLflow does)."""
    return {validate_key(k, "Param"): param_value(k, val) for k, val in (values or {}).items()}


def tags(values: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """Checked tag keys with their values as text (long values truncated, as MLflow does)."""
    return {validate_key(k, "Tag"): tag_value(k, val) for k, val in (values or {}).items()}


def metric_point(key: Any, value: Any, timestamp: Any, step: Any) -> Tuple[str, float, int, int]:
    """A checked metric point ``(key, value, timestamp, step)``."""
    key = validate_key(key, "Metric")
    checked_timestamp = integer(timestamp, "Metric timestamp")
    return key, metric_value(key, value), checked_timestamp, integer(step, "Metric step")


def run_name(name: Optional[str], tags: Dict[str, str]) -> str:
    """A new run's name: the one given, else its ``mlflow.runName`` tag, else ``run-<8 hex>``;
    written into ``tags`` (checked tags) as MLflow keeps it."""
    if name is not None:
        name = tag_value(RUN_NAME_TAG, name)
    name = name or tags.get(RUN_NAME_TAG) or f"run-{os.urandom(4).hex()}"
    tags[RUN_NAME_TAG] = name
    return name


def artifact_subpath(path: Any) -> str:
    """Normalise an artifact path relative to a run's artifact root; refuse escapes."""
    if path is None:
        return ""
    if not isinstance(path, str):
        path = str(path)
    if "\x00" in path:
        raise InvalidInputError(f"Artifact path {path!r} contains a NUL character.")
    if path.startswith("/") or path.startswith("\\") or re_drive(path):
        raise InvalidInputError(f"Artifact path {path!r} must be relative to the run's artifact folder.")
    norm: str = posixpath.normpath(path.replace("\\", "/"))
    if norm == ".":
        return ""
    if norm == ".." or norm.startswith("../"):
        raise InvalidInputError(f"Artifact path {path!r} escapes the run's artifact folder.")
    return norm


def re_drive(path: str) -> bool:
    return len(path) >= 2 and path[1] == ":" and path[0].isalpha()
