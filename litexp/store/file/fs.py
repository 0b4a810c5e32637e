"""Small file-system primitives: atomic writes, exclusive creates, appends, YAML.

Every rewrite goes through a temporary file in the same file system followed by
``os.replace`` so that a reader never sees a half-written file, and every file
that MLflow would parse is created together with its content.
"""

from __future__ import annotations

import errno
import itertools
import os
import sys
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ...errors import StorageError
from . import meta_yaml


def _yaml() -> Any:
    """PyYAML and its fastest safe loader/dumper, imported on first need."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml, loader, dumper


TMP_SUFFIX = ".litexp-tmp"

_pid = os.getpid()
#: Random per process (drawn again in a forked child): with the pid and a counter it makes
#: temporary names unique across processes and hosts without a random draw per file.
_tmp_prefix = os.urandom(5).hex()
_tmp_counter = itertools.count()


def _forked() -> None:
    global _pid, _tmp_prefix, _tmp_counter
    _pid = os.getpid()
    _tmp_prefix = os.urandom(5).hex()
    _tmp_counter = itertools.count()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def temp_path_in(folder: str, name: str = "") -> str:
    """A unique temporary file name inside ``folder`` (a file, never a folder).

    The target's name is not part of it, so the longest valid keys still fit
    the file system's name limit.
    """
    return os.path.join(folder, f".litexp.{_pid}.{_tmp_prefix}{next(_tmp_counter):x}{TMP_SUFFIX}")


# Linux can make a file without a name (O_TMPFILE) and give it one once written (linkat through
# /proc/self/fd): the file appears with its whole content, and no temporary name is ever left behind.
_O_TMPFILE = getattr(os, "O_TMPFILE", 0) if sys.platform.startswith("linux") else 0
_LINK_FOLLOWS = os.link in getattr(os, "supports_dir_fd", ())
#: Errors that mean "not on this file system / system": fall back to a named temporary file.
_NO_TMPFILE = frozenset(
    {
        errno.EOPNOTSUPP,
        errno.ENOTSUP,
        errno.EISDIR,
        errno.EINVAL,
        errno.ENOENT,
        errno.EPERM,
        errno.EACCES,
        errno.EXDEV,
        errno.ENOSYS,
        errno.ENOTDIR,
    }
)


def _link_new(folder: str, path: str, data: bytes) -> Optional[bool]:
    """Create ``path`` with ``data`` through an unnamed file in ``folder``: True, False when ``path``
    exists, None when this system or file system cannot (nothing was made)."""
    if not (_O_TMPFILE and _LINK_FOLLOWS):
        return None
    try:
        fd = os.open(folder, os.O_WRONLY | _O_TMPFILE, 0o644)
    except OSError as exc:
        if exc.errno in _NO_TMPFILE:
            return None
        raise
    try:
        _write_all(fd, data)
        try:
            # src_dir_fd makes os.link call linkat(..., AT_SYMLINK_FOLLOW), which /proc/self/fd needs
            os.link(f"/proc/self/fd/{fd}", path, src_dir_fd=fd, follow_symlinks=True)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno in _NO_TMPFILE:
                return None
            raise
        return True
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    if written == len(data):
        return
    view = memoryview(data)[written:]
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_new_file(path: str, data: bytes) -> None:
    """Create ``path`` (it must not exist) with ``data``; for files nobody reads yet."""
    try:
        _write_new_file(path, data)
    except FileExistsError:
        raise
    except OSError as exc:
        raise storage_error(exc, path) from exc


def _write_new_file(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def storage_error(exc: OSError, path: str) -> StorageError:
    """A clear error for a failed write; the original stays as the cause."""
    reason = exc.strerror or str(exc)
    hint = {
        errno.ENOSPC: "free some space and retry",
        errno.EDQUOT: "free some of your quota and retry",
        errno.EACCES: "check the permissions of the store",
        errno.EROFS: "the store is on a read-only file system",
    }.get(exc.errno or 0, "check the store's file system")
    err = StorageError(exc.errno or 0, f"Could not write {path}: {reason}; {hint}. Nothing partial was kept.")
    err.filename = path
    return err


def replace_file(path: str, data: bytes, tmp_folder: Optional[str] = None) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + ``os.replace``).

    ``tmp_folder`` must be on the same file system as ``path``; by default the
    temporary file is made next to ``path``.
    """
    folder = tmp_folder or os.path.dirname(path)
    tmp = temp_path_in(folder, os.path.basename(path))
    try:
        _write_new_file(tmp, data)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise storage_error(exc, path) from exc
    except BaseException:
        _unlink_quietly(tmp)
        raise


def create_file(path: str, data: bytes, tmp_folder: Optional[str] = None) -> bool:
    """Create ``path`` with ``data`` atomically, only if it does not exist yet.

    Returns False (and writes nothing) when ``path`` already exists. The file
    never exists empty: it appears with its whole content or not at all.
    """
    folder = tmp_folder or os.path.dirname(path)
    try:
        made = _link_new(folder, path, data)
    except OSError as exc:
        raise storage_error(exc, path) from exc
    if made is not None:
        return made
    tmp = temp_path_in(folder, os.path.basename(path))
    try:
        try:
            _write_new_file(tmp, data)
        except OSError as exc:
            raise storage_error(exc, path) from exc
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # File systems without hard links: fall back to an exclusive create.
            try:
                _write_new_file(path, data)
            except FileExistsError:
                return False
        return True
    finally:
        _unlink_quietly(tmp)


def create_new_file(path: str, data: bytes) -> None:
    """Make ``path``, which nobody else creates, appear atomically with ``data``.

    For a file a reader may look for at any moment (a new run's meta.yaml): it
    is absent, then complete, never partial.
    """
    try:
        made = _link_new(os.path.dirname(path), path, data)
    except OSError as exc:
        raise storage_error(exc, path) from exc
    if made is None:
        replace_file(path, data)
    elif not made:
        raise storage_error(OSError(errno.EEXIST, os.strerror(errno.EEXIST)), path)


def append_to_file(path: str, data: bytes, tmp_folder: Optional[str] = None) -> None:
    """Append ``data`` with one ``write`` on an ``O_APPEND`` descriptor.

    A file that does not exist yet is created with ``data`` as its content, so
    it is never seen empty.
    """
    append_after_last_line(path, lambda _last: data, tmp_folder)


def append_after_last_line(
    path: str, render: Callable[[Optional[bytes]], bytes], tmp_folder: Optional[str] = None, create_first: bool = False
) -> None:
    """Append ``render(last line)`` to ``path`` with one ``write`` on an ``O_APPEND`` descriptor.

    ``render`` gets the file's last complete line (what :func:`last_line` reads, from
    the descriptor that then appends) or None, and returns the bytes to append (none:
    nothing is written). A missing file is created with ``render(None)`` as its whole
    content (:func:`create_file`: never seen empty). ``create_first``: the file is
    probably new, try creating it before opening it. A missing parent folder raises
    FileNotFoundError (NotADirectoryError when a parent is a file, IsADirectoryError
    when ``path`` is a folder) with nothing written.
    """
    if create_first:
        data = render(None)
        if not data or create_file(path, data, tmp_folder):
            return
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
            break
        except FileNotFoundError:
            data = render(None)
            if not data or create_file(path, data, tmp_folder):
                return
            # made by another writer meanwhile: append after its lines
    try:
        size_before = os.fstat(fd).st_size
        data = render(_last_line_of(fd, size_before))
        if not data:
            return
        try:
            _write_all(fd, data)
        except OSError as exc:
            _drop_partial_append(fd, size_before, len(data))
            raise storage_error(exc, path) from exc
    finally:
        os.close(fd)


def _last_line_of(fd: int, size: int, limit: int = 256) -> Optional[bytes]:
    """:func:`last_line` of an open file of ``size`` bytes."""
    start = max(0, size - limit)
    tail = os.pread(fd, size - start, start) if size else b""
    if not tail.endswith(b"\n"):
        return None
    body = tail[:-1]
    cut = body.rfind(b"\n")
    if cut < 0 and start > 0:
        return None
    return body[cut + 1 :]


def _drop_partial_append(fd: int, size_before: int, length: int) -> None:
    """After a failed append, cut our partial bytes off so no torn line stays behind."""
    try:
        if size_before < os.fstat(fd).st_size < size_before + length:
            os.ftruncate(fd, size_before)
    except OSError:
        pass


def read_with_stat(path: str) -> "tuple[bytes, os.stat_result]":
    """A file's content and its ``fstat`` (taken before reading)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        want = st.st_size + 1
        chunks = []
        while True:
            chunk = os.read(fd, max(want, 1 << 16))
            chunks.append(chunk)
            if len(chunk) < want:  # a short read of a regular file is its end
                break
            want = 1 << 20
    finally:
        os.close(fd)
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), st


def read_bytes(path: str) -> bytes:
    return read_with_stat(path)[0]


def last_line(path: str, limit: int = 256) -> Optional[bytes]:
    """The last complete line of a file (without its newline), or None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return _last_line_of(fd, os.fstat(fd).st_size, limit)
    finally:
        os.close(fd)


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def dump_yaml(data: Dict[str, Any]) -> bytes:
    """Serialise like MLflow: block style, unicode kept, keys sorted."""
    text = meta_yaml.dumps(data)
    if text is None:
        yaml, _, dumper = _yaml()
        text = yaml.dump(data, Dumper=dumper, default_flow_style=False, allow_unicode=True, sort_keys=True)
    return text.encode("utf-8")


def parse_yaml(data: bytes) -> Any:
    fast = meta_yaml.loads(data)
    if fast is not None:
        return fast
    yaml, loader, _ = _yaml()
    return yaml.load(data, Loader=loader)


def load_yaml(path: str) -> Any:
    return parse_yaml(read_bytes(path))


def write_yaml(path: str, data: Dict[str, Any]) -> None:
    """Atomically (re)write a YAML file."""
    replace_file(path, dump_yaml(data))


def list_subfolders(folder: str) -> List[str]:
    """Names of the folders directly inside ``folder`` (empty when missing)."""
    try:
        with os.scandir(folder) as it:
            return [e.name for e in it if e.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def walk_files(folder: str) -> Iterator[Tuple[str, str]]:
    """Yield ``(key, full_path)`` for every file below ``folder``.

    ``key`` is the path relative to ``folder`` with ``/`` separators, which is
    how MLflow names metrics, params and tags with slashes.
    """
    stack = [("", folder)]
    while stack:
        prefix, current = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            key = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                stack.append((key + "/", entry.path))
            else:
                yield key, entry.path


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
