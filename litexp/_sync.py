"""Copying runs between two stores: ``push`` (usually file store → server) and ``pull`` (back).

Experiments are matched by name (created when missing). Each copied run carries the tag
``litexp.source`` = ``<source URI> <run id>``, so a later copy finds it and sends only
what is new: missing params, changed tags, the metric points past those the copy has, missing
artifacts, and the status, times and lifecycle stage. The copy's state tag
(``litexp.source.state``) is written last, after everything else arrived; a run whose state
tag equals the source's fingerprint is not read again. So a copy killed at any moment and
started again ends with no duplicate run and no duplicate point. Nothing in the source is
written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO, Dict, Iterator, List, Optional, Sequence, Tuple

from . import config
from .errors import InvalidInputError, LitexpError, LockTimeoutError, ServerUnreachableError, UndeliveredError
from .records import DELETED, PARENT_RUN_TAG, ArtifactEntry, MetricPoint, RunRecord, ViewType
from .store import FileStore, TrackingStore, check_uri, open_store
from .store.uri import canonical_uri

SOURCE_TAG = "litexp.source"
STATE_TAG = "litexp.source.state"
_OWN_TAGS = frozenset({SOURCE_TAG, STATE_TAG, "litexp.heartbeat"})


@dataclass
class SyncReport:
    """What a push or pull copied (or, with ``dry_run``, would copy)."""

    runs_seen: int = 0
    runs_created: int = 0
    runs_updated: int = 0
    runs_unchanged: int = 0
    points: int = 0
    params: int = 0
    tags: int = 0
    artifacts: int = 0
    bytes: int = 0
    failed: Dict[str, str] = field(default_factory=dict)  # source run id -> why
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return (
            f"{self.runs_seen} runs: {self.runs_created} created, {self.runs_updated} updated, "
            f"{self.runs_unchanged} unchanged, {len(self.failed)} failed; {self.points} points, "
            f"{self.params} params, {self.tags} tags, {self.artifacts} artifacts ({_size(self.bytes)}) "
            f"in {self.seconds:.1f} s"
        )


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class Progress:
    """A progress line on a terminal; plain lines otherwise; nothing when quiet."""

    def __init__(self, stream: Optional[IO[str]], total: int, dry_run: bool = False) -> None:
        self.stream = stream
        self.dry_run = dry_run
        self.total = total
        self.started = time.monotonic()
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._last = 0.0

    def update(self, done: int, report: SyncReport, force: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if not self.tty and not force:
            return
        if self.tty and not force and now - self._last < 0.2:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-6)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 and done < self.total else 0.0
        line = (
            f"runs {done}/{self.total}, {report.points} points, {_size(report.bytes)}, "
            f"{rate:.1f} runs/s, ETA {eta:.0f} s"
        )
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self, report: SyncReport) -> None:
        if self.stream is None:
            return
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(("dry run, would copy: " if self.dry_run else "") + report.summary() + "\n")
        for run_id, why in report.failed.items():
            self.stream.write(f"failed: run {run_id}: {why}\n")
        self.stream.flush()


# ------------------------------------------------------------------- what a run holds
@dataclass
class RunCopy:
    """Everything of one source run that a copy must hold."""

    record: RunRecord
    histories: Dict[str, List[MetricPoint]]
    artifacts: List[ArtifactEntry]

    def fingerprint(self) -> str:
        r = self.record
        data = {
            "status": r.status,
            "end": r.end_time,
            "stage": r.lifecycle_stage,
            "name": r.run_name,
            "params": sorted(r.params.items()),
            "tags": sorted((k, v) for k, v in r.tags.items() if k not in _OWN_TAGS),
            "metrics": sorted(
                (k, len(h), repr(h[-1].value) if h else "", h[-1].step if h else 0) for k, h in self.histories.items()
            ),
            "artifacts": sorted((a.path, a.file_size) for a in self.artifacts if not a.is_dir),
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _artifact_files(store: TrackingStore, run_id: str, path: Optional[str] = None) -> Iterator[ArtifactEntry]:
    for entry in store.list_artifacts(run_id, path):
        if entry.is_dir:
            yield from _artifact_files(store, run_id, entry.path)
        else:
            yield entry


def _read_source(store: TrackingStore, run: RunRecord) -> RunCopy:
    histories = {key: store.get_metric_history(run.run_id, key) for key in sorted(run.metrics)}
    return RunCopy(run, histories, list(_artifact_files(store, run.run_id)))


# ------------------------------------------------------------------- the copy
class _Copier:
    def __init__(
        self, source: TrackingStore, source_uri: str, target: TrackingStore, dry_run: bool, report: SyncReport
    ) -> None:
        self.source = source
        self.source_uri = source_uri
        self.target = target
        self.dry_run = dry_run
        self.report = report
        self.mapped: Dict[str, str] = {}  # source run id -> its copy's id
        self.source_is_local = isinstance(source, FileStore)

    def _tags_of(self, src: RunRecord) -> Dict[str, str]:
        """The source's tags for the copy: a parent link points at the parent's copy."""
        tags = {k: v for k, v in src.tags.items() if k not in _OWN_TAGS}
        parent = tags.get(PARENT_RUN_TAG)
        if parent in self.mapped:
            tags[PARENT_RUN_TAG] = self.mapped[parent]
        return tags

    def copies_in(self, experiment_id: Optional[str]) -> Dict[str, RunRecord]:
        """Runs of a target experiment that are copies of this source's runs: source run id -> copy."""
        if experiment_id is None:
            return {}
        found = {}
        prefix = self.source_uri + " "
        for run in self.target.load_runs([experiment_id], ViewType.ALL, filter_string=f"tags.`{SOURCE_TAG}` LIKE '%'"):
            origin = run.tags.get(SOURCE_TAG, "")
            if origin.startswith(prefix):
                found[origin[len(prefix) :]] = run
                self.mapped[origin[len(prefix) :]] = run.run_id
        return found

    def copy_run(self, data: RunCopy, experiment_id: Optional[str], copy: Optional[RunRecord]) -> None:
        src = data.record
        state = data.fingerprint()
        if copy is not None and copy.tags.get(STATE_TAG) == state and copy.lifecycle_stage == src.lifecycle_stage:
            self.report.runs_unchanged += 1
            return
        if self.dry_run:
            self._count_new(data, copy)
            return
        assert experiment_id is not None
        target = self.target
        fresh = copy is None
        if copy is None:
            tags = self._tags_of(src)
            tags[SOURCE_TAG] = f"{self.source_uri} {src.run_id}"
            copy = target.create_run(experiment_id, src.run_name or None, src.user_id, src.start_time, tags)
            self.report.runs_created += 1
            self.report.tags += len(tags)
        else:
            self.report.runs_updated += 1
        run_id = copy.run_id
        self.mapped[src.run_id] = run_id
        if copy.lifecycle_stage == DELETED:
            target.restore_run(run_id)
        params = {k: v for k, v in src.params.items() if k not in copy.params}
        tags = {k: v for k, v in self._tags_of(src).items() if copy.tags.get(k) != v}
        points: List[Tuple[str, float, int, int]] = []
        for key, history in data.histories.items():
            have = len(target.get_metric_history(run_id, key)) if key in copy.metrics else 0
            points.extend((p.key, p.value, p.timestamp, p.step) for p in history[have:])
        if points or params or tags:
            target.log_batch(run_id, points, params, tags)  # the store cuts it to its request limits
        self.report.points += len(points)
        self.report.params += len(params)
        self.report.tags += len(tags)
        self._copy_artifacts(data, run_id, fresh)
        target.flush_run(run_id)
        if copy.status != src.status or copy.end_time != src.end_time:
            target.update_run(run_id, src.status, src.end_time)
        # last: a copy stopped before this line is compared again, point by point, next time
        target.log_batch(run_id, tags={STATE_TAG: state})
        target.flush_run(run_id)
        if src.lifecycle_stage == DELETED:  # a copy stopped before this is told apart by its stage
            target.delete_run(run_id)

    def _copy_artifacts(self, data: RunCopy, run_id: str, fresh: bool) -> None:
        have = (
            {a.path: a.file_size for a in _artifact_files(self.target, run_id)} if data.artifacts and not fresh else {}
        )
        for entry in data.artifacts:
            if entry.path in have and (have[entry.path] == entry.file_size or have[entry.path] is None):
                continue
            parent = entry.path.rsplit("/", 1)[0] if "/" in entry.path else None
            if self.source_is_local:  # the file in the source store itself, named like the artifact
                local = self.source.local_artifact(data.record.run_id, entry.path)
                self.target.log_artifact(run_id, local, parent)
                self.report.bytes += os.path.getsize(local)
            else:  # downloaded one at a time, so a pull needs room for one artifact, not all
                with tempfile.TemporaryDirectory(prefix="litexp-copy-") as tmp:
                    local = self.source.download_artifact(data.record.run_id, entry.path, tmp)
                    self.target.log_artifact(run_id, local, parent)
                    self.report.bytes += os.path.getsize(local)
            self.report.artifacts += 1

    def _count_new(self, data: RunCopy, copy: Optional[RunRecord]) -> None:
        if copy is None:
            self.report.runs_created += 1
            self.report.points += sum(len(h) for h in data.histories.values())
            self.report.params += len(data.record.params)
            self.report.tags += len(self._tags_of(data.record)) + 1  # and the tag naming the source
            self.report.artifacts += len(data.artifacts)
            self.report.bytes += sum(a.file_size or 0 for a in data.artifacts)
            return
        self.report.runs_updated += 1
        for key, history in data.histories.items():
            have = len(self.target.get_metric_history(copy.run_id, key)) if key in copy.metrics else 0
            self.report.points += max(0, len(history) - have)
        self.report.params += len([k for k in data.record.params if k not in copy.params])
        self.report.tags += len([k for k, v in self._tags_of(data.record).items() if copy.tags.get(k) != v])


# ------------------------------------------------------------------- the verbs
@contextlib.contextmanager
def _one_copy_at_a_time(source_uri: str, target_uri: str, wait: bool) -> Iterator[None]:
    """A second push of the same source to the same target waits (``wait``) or is refused."""
    from filelock import FileLock, Timeout

    folder = os.path.join(os.path.dirname(config.spool_dir()), "sync")
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha256(f"{source_uri}\n{target_uri}".encode()).hexdigest()[:24]
    lock = FileLock(os.path.join(folder, name + ".lock"))
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        raise LockTimeoutError(
            f"Another copy from {source_uri} to {target_uri} is running; it will copy everything this one "
            "would. Run again later (or pass wait=True / --wait to queue behind it)."
        ) from None
    try:
        yield
    finally:
        lock.release()


def copy_runs(
    source: str,
    target: str,
    experiments: Optional[Sequence[str]] = None,
    filter_string: Optional[str] = None,
    dry_run: bool = False,
    progress: Optional[IO[str]] = None,
    wait: bool = False,
) -> SyncReport:
    """Copy the runs of ``source`` into ``target`` (any two tracking URIs); see :func:`push`."""
    from ._query import select_runs

    source_uri, target_uri = canonical_uri(source), canonical_uri(target)
    check_uri(source_uri)
    check_uri(target_uri)
    if source_uri == target_uri:
        raise InvalidInputError(f"The source and the target are the same store ({source_uri}).")
    started = time.monotonic()
    report = SyncReport()
    src = open_store(source_uri)
    with _one_copy_at_a_time(source_uri, target_uri, wait):
        dst = open_store(target_uri, create=True)  # nothing is written to it before the first copy
        by_name = {e.name: e for e in src.list_experiments(ViewType.ACTIVE_ONLY)}
        names = list(experiments) if experiments else sorted(by_name)
        missing = [n for n in names if n not in by_name]
        if missing:
            raise InvalidInputError(f"No experiment {', '.join(map(repr, missing))} in {source_uri}.")
        plan: List[Tuple[str, List[RunRecord]]] = []
        for name in names:
            runs, _ = select_runs(src, [by_name[name].experiment_id], filter_string, ViewType.ALL)
            plan.append((name, sorted(runs, key=lambda r: (r.start_time, r.run_id))))  # parents before children
        meter = Progress(progress, sum(len(r) for _, r in plan), dry_run)
        copier = _Copier(src, source_uri, dst, dry_run, report)
        done = 0
        away: Optional[str] = None  # set when the target stops answering: the rest is not tried
        for name, runs in plan:
            experiment_id = _target_experiment(dst, name, by_name[name].tags, dry_run) if away is None else None
            copies = copier.copies_in(experiment_id) if away is None else {}
            for run in runs:
                report.runs_seen += 1
                if away is not None:
                    report.failed[run.run_id] = away
                    continue
                try:
                    copier.copy_run(_read_source(src, run), experiment_id, copies.get(run.run_id))
                except (ServerUnreachableError, UndeliveredError) as exc:
                    report.failed[run.run_id] = str(exc)
                    away = f"not tried: {target_uri} stopped answering ({type(exc).__name__})"
                except (LitexpError, OSError) as exc:
                    report.failed[run.run_id] = (
                        str(exc) if isinstance(exc, LitexpError) else f"{type(exc).__name__}: {exc}"
                    )
                done += 1
                report.seconds = time.monotonic() - started
                meter.update(done, report)
        report.seconds = time.monotonic() - started
        meter.finish(report)
    return report


def _target_experiment(dst: TrackingStore, name: str, tags: Dict[str, str], dry_run: bool) -> Optional[str]:
    if dry_run:
        found = dst.find_experiment(name, ViewType.ACTIVE_ONLY) if dst.exists() else None
        return None if found is None else found.experiment_id
    record, _ = dst.get_or_create_experiment(name)
    for key, value in tags.items():
        if record.tags.get(key) != value and not key.startswith("mlflow."):
            dst.set_experiment_tag(record.experiment_id, key, value)
    return record.experiment_id


def push(
    source: str,
    to: str,
    experiments: Optional[Sequence[str]] = None,
    filter_string: Optional[str] = None,
    dry_run: bool = False,
    progress: Optional[IO[str]] = sys.stderr,
    wait: bool = False,
) -> SyncReport:
    """Copy runs from ``source`` to ``to`` (tracking URIs; usually a file store to an MLflow server).

    ``experiments`` (names) and ``filter_string`` (the search language) limit what is copied.
    Idempotent and resumable: a second push copies nothing; a run that grew sends only what is
    new. ``dry_run`` counts without writing. Runs that fail are in ``report.failed`` (the
    others are still copied). A second copy between the same stores at the same time raises
    LockTimeoutError unless ``wait``.
    """
    return copy_runs(source, to, experiments, filter_string, dry_run, progress, wait)


def pull(
    source: str,
    to: str,
    experiments: Optional[Sequence[str]] = None,
    filter_string: Optional[str] = None,
    dry_run: bool = False,
    progress: Optional[IO[str]] = sys.stderr,
    wait: bool = False,
) -> SyncReport:
    """Copy runs from ``source`` (usually an MLflow server) into ``to`` (usually a file store); as :func:`push`."""
    return copy_runs(source, to, experiments, filter_string, dry_run, progress, wait)


__all__ = ["push", "pull", "SyncReport", "SOURCE_TAG", "STATE_TAG"]
