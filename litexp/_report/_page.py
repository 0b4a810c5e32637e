"""The report's HTML: one file with its data as inert JSON, its script and its style inline,
a Content-Security-Policy that lets nothing else load or run, and an atomic write."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import os
import secrets
import stat
from importlib import resources
from typing import Any, Dict

from ..errors import InvalidInputError, NotFoundError, StorageError

__all__ = ["page", "embed_json", "check_output", "write_atomic", "ASSETS"]

#: The package files the page inlines (shipped as package data).
ASSETS = ("report.js", "report.css")

# Inside <script type="application/json"> only "</script" or "<!--" could end the block early;
# escaping < > & (and the two line separators old JavaScript parsers choke on) leaves no way out.
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="litexp {version}">
<title>{title}</title>
<style>{css}</style>
</head>
<body data-state="loading">
<svg id="svg-ns" class="ns" width="0" height="0" aria-hidden="true" focusable="false"></svg>
<header>
<h1>{title}</h1>
<p id="meta" class="meta"></p>
</header>
<pre id="errors" class="errors" hidden></pre>
<noscript><p class="errors">This report draws its table and charts with JavaScript: allow scripts for this file.</p></noscript>
<section id="notes-section" hidden><h2>Notes</h2><ul id="notes" class="notes"></ul></section>
<section id="runs-section"><h2>Runs</h2>
<p class="hint">Click a column header to sort; click it again to reverse.</p>
<div class="table-wrap"><table id="runs" class="runs"></table></div>
<div id="same-params" class="same-params"></div>
</section>
<section id="metrics-section"><h2>Metrics</h2>
<div id="legend" class="legend" role="group" aria-label="runs shown in the charts"></div>
<div id="charts" class="charts"></div>
</section>
<div id="tooltip" class="tooltip" role="status" hidden></div>
<script type="application/json" id="report-data">{data}</script>
<script>{js}</script>
</body>
</html>
"""


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def embed_json(data: Any) -> str:
    """``data`` as JSON that can sit inside ``<script type="application/json">`` as it is."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escape in _JSON_ESCAPES.items():
        text = text.replace(char, escape)
    return text


def page(data: Dict[str, Any], title: str, version: str) -> str:
    """The whole HTML page of ``data`` (from :func:`~litexp._report._data.collect`)."""
    js, css = (_asset(name) for name in ASSETS)
    for name, text, end in (("report.js", js, "</script"), ("report.css", css, "</style")):
        if end in text.lower():
            raise AssertionError(f"{name} must not contain {end!r}")  # it would end its own element
    csp = (
        "default-src 'none'; script-src "
        + _sha256(js)
        + "; style-src "
        + _sha256(css)
        + "; img-src data:; base-uri 'none'; form-action 'none'"
    )
    return _TEMPLATE.format(
        csp=html.escape(csp, quote=False),
        version=html.escape(version),
        title=html.escape(title),
        css=css,
        js=js,
        data=embed_json(data),
    )


def check_output(path: str) -> str:
    """The absolute path to write (a symbolic link's target), after checking its folder exists and
    that it is a regular file or nothing yet: a device, a pipe or a folder is never replaced."""
    path = os.path.realpath(os.path.abspath(os.fspath(path)))
    if os.path.isdir(path):
        raise InvalidInputError(f"The report's output {path} is a folder: give a file name such as report.html.")
    if os.path.lexists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise InvalidInputError(
            f"The report's output {path} is not a regular file (a device or a pipe); it is left alone: "
            "give a file name such as report.html."
        )
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise NotFoundError(f"The folder {folder} for the report does not exist: create it or write elsewhere (-o).")
    return path


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so a
    reader (or a killed report) never sees half a page; the file gets the usual umask mode."""
    folder, name = os.path.split(path)
    temp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise StorageError(
                f"Cannot write the report {path}: {exc.strerror or exc}; check the folder's space and permissions."
            ) from exc
        raise
