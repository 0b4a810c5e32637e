"""One run's row of the search index, and its compact encoding.

An :class:`Entry` holds the signature ``(mtime_ns, size, inode)`` and parsed value
of each file of a run folder the reader used: ``meta.yaml`` (its checked fields),
the folders ``metrics``, ``params`` and ``tags`` (and their subfolders, for keys
with ``/``), each metric (latest point, skipped lines and a checksum of the last
bytes, to tell an append from a rewrite) and each param or tag (its text).

Encoded, a row is a ``marshal`` tuple whose numbers are packed arrays (inodes as
differences to meta.yaml's, sizes in 32 bits when they fit): about 16 bytes of
signature per file plus its value. A row that does not decode is treated as missing.
"""

from __future__ import annotations

import marshal
import struct
from array import array
from typing import Any, Dict, List, Optional, Sequence, Tuple

Sig = Tuple[int, int, int]
#: (timestamp, value, step, skipped lines, crc32 of the last bytes)
MetricValue = Tuple[int, float, int, int, int]
NO_SIG: Sig = (-1, -1, -1)
_FORMAT = 3
_RUN = "\x00"  # stands for the run id inside artifact_uri


class Files:
    """The files of one data folder: names relative to it, their signatures and values."""

    __slots__ = ("names", "mtimes", "sizes", "inos", "values", "_where")

    def __init__(self) -> None:
        self.names: List[str] = []
        self.mtimes: Sequence[int] = []
        self.sizes: Sequence[int] = []
        self.inos: Sequence[int] = []
        self.values: List[Any] = []
        self._where: Optional[Dict[str, int]] = None

    def add(self, name: str, sig: Sig, value: Any) -> None:
        self.names.append(name)
        # only a Files being built is added to, and its columns are lists (decoded ones are arrays
        # or tuples, only read)
        self.mtimes.append(sig[0])  # type: ignore[attr-defined]  # a list here, see above
        self.sizes.append(sig[1])  # type: ignore[attr-defined]  # a list here, see above
        self.inos.append(sig[2])  # type: ignore[attr-defined]  # a list here, see above
        self.values.append(value)
        self._where = None

    def find(self, name: str) -> int:
        """The position of a file, or -1."""
        if self._where is None:
            self._where = {n: i for i, n in enumerate(self.names)}
        return self._where.get(name, -1)

    def sig(self, i: int) -> Sig:
        return (self.mtimes[i], self.sizes[i], self.inos[i])


class Entry:
    """What the index remembers of one run folder (a decoded row unpacks each folder on first use)."""

    __slots__ = ("meta_sig", "meta", "dirs", "kinds", "_packed")

    def __init__(self) -> None:
        self.meta_sig: Sig = NO_SIG
        self.meta: Optional[Tuple[Any, ...]] = None
        #: folder path in the run folder (``metrics``, ``metrics/a``) → signature
        self.dirs: Dict[str, Sig] = {}
        #: data folder (``metrics``, ``params``, ``tags``) → its files
        self.kinds: Dict[str, Files] = {}
        self._packed: Dict[str, Tuple[Any, ...]] = {}

    def files(self, folder: str) -> Files:
        """The files of a folder, made empty if there are none (for an entry being built)."""
        found = self.kinds.get(folder)
        if found is None:
            found = self.kinds[folder] = Files()
        return found

    def old_files(self, folder: str) -> Optional[Files]:
        """The remembered files of a folder, or None."""
        found = self.kinds.get(folder)
        if found is None:
            packed = self._packed.pop(folder, None)
            if packed is not None:
                try:
                    found = _unpack_files(packed, self.meta_sig[2] if self.meta_sig[2] >= 0 else 0)
                except Exception:  # damaged: as good as not remembered
                    found = None
                if found is not None:
                    self.kinds[folder] = found
        return found

    def lookup(self, folder: str, name: str) -> Optional[Tuple[Sig, Any]]:
        """(signature, value) of one remembered file, unpacking nothing else; None if not remembered."""
        files = self.kinds.get(folder)
        if files is not None:
            i = files.find(name)
            return (files.sig(i), files.values[i]) if i >= 0 else None
        packed = self._packed.get(folder)
        if packed is None:
            return None
        try:
            i = packed[1].split("\n").index(name)
            values = packed[5]
            sig = (
                _item(packed[2], i),
                _item(packed[3], i),
                (self.meta_sig[2] if self.meta_sig[2] >= 0 else 0) + _item(packed[4], i),
            )
            if folder != "metrics":
                return sig, values[i]
            if i in values[3]:
                return sig, None
            point = (_item(values[0], 2 * i), _FLOAT.unpack_from(values[1], 8 * i)[0], _item(values[0], 2 * i + 1))
            return sig, point + (dict(values[4]).get(i, 0), _item(values[2], i))
        except Exception:  # not there, or damaged: as good as not remembered
            return None

    def folders(self) -> List[str]:
        return list(self.kinds) + [f for f in self._packed if f not in self.kinds]


_WIDER = {"H": ("H", "I", "q"), "I": ("I", "q"), "h": ("h", "i", "q"), "i": ("i", "q"), "q": ("q",)}


def _pack(code: str, values: Sequence[int]) -> Any:
    """Numbers as the narrowest packed array starting at ``code`` (its type code, then
    its bytes), else a tuple (numbers beyond 64 bits)."""
    for kind in _WIDER[code]:
        try:
            return kind.encode("ascii") + array(kind, values).tobytes()
        except OverflowError:
            continue
    return tuple(values)


_FLOAT = struct.Struct("=d")
_STRUCTS = {code: struct.Struct("=" + code) for code in "HIhiq"}


def _item(packed: Any, i: int) -> int:
    """Item ``i`` of what :func:`_pack` made."""
    if isinstance(packed, bytes):
        one = _STRUCTS[chr(packed[0])]
        value: int = one.unpack_from(packed, 1 + i * one.size)[0]
        return value
    item: int = packed[i]
    return item


def _unpack(packed: Any) -> Sequence[int]:
    if isinstance(packed, bytes):
        out = array(chr(packed[0]))
        out.frombytes(memoryview(packed)[1:])
        return out
    numbers: Sequence[int] = packed  # a tuple of ints (see _pack)
    return numbers


def _with_marker(meta: Optional[Tuple[Any, ...]], run_id: str) -> Optional[Tuple[Any, ...]]:
    if meta is None or len(meta) < 7 or not isinstance(meta[6], str) or _RUN in meta[6]:
        return meta
    return meta[:6] + (meta[6].replace(run_id, _RUN),) + meta[7:]


def encode(entry: Entry, run_id: str) -> bytes:
    base_ino = entry.meta_sig[2] if entry.meta_sig[2] >= 0 else 0
    kinds = []
    for folder in entry.folders():
        files = entry.old_files(folder)
        if files is None:
            continue
        metric = folder == "metrics"
        values: Any
        if metric:
            numbers: List[int] = []
            floats: List[float] = []
            extra: List[Tuple[int, int]] = []
            empty: List[int] = []
            for i, value in enumerate(files.values):
                if value is None:
                    empty.append(i)
                    value = (0, 0.0, 0, 0, 0)
                elif value[3]:
                    extra.append((i, value[3]))
                numbers.extend((value[0], value[2]))
                floats.append(value[1])
            values = (
                _pack("q", numbers),
                array("d", floats).tobytes(),
                _pack("I", [v[4] if v is not None else 0 for v in files.values]),
                tuple(empty),
                tuple(extra),
            )
        else:
            values = tuple(files.values)
        kinds.append(
            (
                folder,
                "\n".join(files.names),
                _pack("q", files.mtimes),
                _pack("H", files.sizes),
                _pack("h", [ino - base_ino for ino in files.inos]),
                values,
            )
        )
    dir_sigs: List[int] = []
    for sig in entry.dirs.values():
        dir_sigs.extend(sig)
    row = (
        _FORMAT,
        entry.meta_sig,
        _with_marker(entry.meta, run_id),
        "\n".join(entry.dirs),
        _pack("q", dir_sigs),
        tuple(kinds),
    )
    return marshal.dumps(row)


def _unpack_files(packed: Tuple[Any, ...], base_ino: int) -> Optional[Files]:
    folder, names, mtimes, sizes, inos, values = packed
    files = Files()
    files.names = names.split("\n") if names else []
    files.mtimes = _unpack(mtimes)
    files.sizes = _unpack(sizes)
    files.inos = [base_ino + i for i in _unpack(inos)]
    if folder == "metrics":
        numbers = _unpack(values[0])
        floats = array("d")
        floats.frombytes(values[1])
        crcs = _unpack(values[2])
        skipped = dict(values[4])
        files.values = [
            (numbers[2 * i], floats[i], numbers[2 * i + 1], skipped.get(i, 0), crcs[i]) for i in range(len(files.names))
        ]
        for i in values[3]:
            files.values[i] = None
    else:
        files.values = list(values)
    if not (len(files.names) == len(files.mtimes) == len(files.sizes) == len(files.inos) == len(files.values)):
        return None
    return files


def decode(data: bytes, run_id: str) -> Optional[Entry]:
    """The entry of a row; None for a row of another format or visibly damaged (a folder that
    turns out damaged when first used reads as not remembered)."""
    try:
        row = marshal.loads(data)
        if row[0] != _FORMAT:
            return None
        _, meta_sig, meta, dir_names, packed_dirs, kinds = row
        entry = Entry()
        entry.meta_sig = meta_sig
        if meta is not None and isinstance(meta[6], str) and _RUN in meta[6]:
            meta = meta[:6] + (meta[6].replace(_RUN, run_id),) + meta[7:]
        entry.meta = meta
        if dir_names:
            sigs = _unpack(packed_dirs)
            for n, name in enumerate(dir_names.split("\n")):
                entry.dirs[name] = (sigs[3 * n], sigs[3 * n + 1], sigs[3 * n + 2])
        for packed in kinds:
            entry._packed[packed[0]] = packed
        return entry
    except Exception:  # any damage: the row is as good as missing
        return None
