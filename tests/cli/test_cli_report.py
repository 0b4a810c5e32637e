"""``litexp report``: one HTML file that renders offline in a real headless Chromium.

A store written with litexp's API (one experiment of ordinary runs, one whose experiment name,
run name and param value are HTML and script) is reported through ``python -m litexp``. The
page is opened from ``file://`` twice: as written (charts, legend, table, the ``#sort=`` hook,
no console message, nothing from the store turned into markup; a screenshot is kept) and with
a probe appended to its script (its CSP hash recomputed) that hovers a line, toggles a legend
entry and clicks headers. A missing ``chromium`` fails the tests (CI installs it with apt).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from browser_support import render_command
from cli_support import cli, failed, ok

from litexp import FileExpManager, QlibRecorder

BUDGET_MS = 8000
RENDER_TIMEOUT = 180
STEPS = 30
EVIL_EXPERIMENT = "</script><script>alert(1)</script>"
EVIL_RUN = "<b>bold</b></script><script>alert(2)</script>"
EVIL_PARAM = "<img src=x onerror=alert(1)>"
EVIL_METRIC = "<svg onload=alert(3)>"
LRS = ("0.1", "0.2", "0.3")
DATA_BLOCK = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)
SCRIPT_BLOCK = re.compile(r"<script>(.*?)</script>", re.S)


# ---- a store, its report and Chromium ----------------------------------------------------------


def write_store(root: Path) -> Dict[str, Any]:
    """Three runs in ``alpha`` (lr differs, model is shared, ``loss`` over 30 steps, ``ic`` once)
    and, logged last (so newest), one run in an experiment whose name, run name and a param
    value are HTML/script; a metric file with an HTML name is placed in that run by hand."""
    r = QlibRecorder(FileExpManager("file:" + str(root), "Experiment"))
    ids: Dict[str, str] = {}
    for j, lr in enumerate(LRS):
        with r.start(experiment_name="alpha", recorder_name=f"run{j}"):
            r.log_params(lr=lr, model="lgbm")
            for i in range(STEPS):
                r.log_metrics(step=i, loss=float(STEPS - i) + 0.25 * j)
            r.log_metrics(ic=0.01 * (j + 1))
            ids[f"run{j}"] = r.get_recorder().id
    with r.start(experiment_name=EVIL_EXPERIMENT, recorder_name=EVIL_RUN):
        r.log_params(lr="0.05", model="lgbm", x=EVIL_PARAM)
        for i in range(STEPS):
            r.log_metrics(step=i, loss=float(STEPS - i) + 0.75)
        recorder = r.get_recorder()
        ids["evil"] = recorder.id
    run_dir = next(p for p in root.glob("*/*") if p.name == ids["evil"])
    (run_dir / "metrics" / EVIL_METRIC).write_text("1700000000000 1.5 0\n")
    return ids


def render(url: str, out_dir: Path, name: str) -> Tuple[str, List[str]]:
    """The DOM of ``url`` after its script ran, and the console messages Chromium logged;
    the screenshot goes to ``out_dir/<name>.png``."""
    profile = out_dir / f"{name}-profile"
    command = render_command(
        url, profile, out_dir / (name + ".png"), BUDGET_MS, "1400,1600", "--enable-logging=stderr", "--v=0"
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=RENDER_TIMEOUT, stdin=subprocess.DEVNULL)
    shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    return done.stdout, console


def keep_artifact(path: Path) -> None:
    folder = os.environ.get("LITEXP_TEST_ARTIFACTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        shutil.copy(path, os.path.join(folder, path.name))


def visible_text(dom: str) -> str:
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


class Elements(HTMLParser):
    """Every element of a page: its tag and its attribute names (script text is not parsed)."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: List[Tuple[str, List[str]]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Any]]) -> None:
        self.found.append((tag, [name for name, _ in attrs]))

    def tags(self, name: str) -> int:
        return sum(1 for tag, _ in self.found if tag == name)


def embedded(page: str) -> Dict[str, Any]:
    found = DATA_BLOCK.search(page)
    assert found, "no report-data block"
    return json.loads(found.group(1))


def report(store: Path, out: Path, *args: str) -> str:
    return ok("report", *args, "--uri", str(store), "-o", str(out))


@pytest.fixture(scope="module")
def site(tmp_path_factory: Any) -> Dict[str, Any]:
    base = tmp_path_factory.mktemp("report")
    ids = write_store(base / "mlruns")
    page = base / "report.html"
    stdout = report(base / "mlruns", page)
    return {
        "base": base,
        "store": base / "mlruns",
        "page": page,
        "ids": ids,
        "stdout": stdout,
        "html": page.read_text(encoding="utf-8"),
    }


@pytest.fixture(scope="module")
def rendered(site: Dict[str, Any]) -> Tuple[str, List[str]]:
    """The page as written, opened with ``#sort=-metrics.ic``."""
    dom, console = render(site["page"].as_uri() + "#sort=-metrics.ic", site["base"], "report")
    keep_artifact(site["base"] / "report.png")
    return dom, console


# ---- in Chromium ---------------------------------------------------------------------------------


def charts_of(dom: str) -> Dict[str, str]:
    return {
        html.unescape(m.group(2)): m.group(3)
        for m in re.finditer(r'<figure class="chart (line|bar)" data-metric="([^"]*)">(.*?)</figure>', dom, re.S)
    }


def test_the_page_draws_a_chart_per_metric_the_legend_and_the_table(site: Dict[str, Any], rendered: Any) -> None:
    dom, console = rendered
    assert console == [], console
    assert 'data-state="ready"' in dom
    assert re.search(r'<pre id="errors" class="errors" hidden="">\s*</pre>', dom), "the page reported an error"
    charts = charts_of(dom)
    assert sorted(charts) == ["ic", "loss"]
    assert len(re.findall(r'<svg[^>]*class="plot"', charts["loss"])) == 1
    assert len(re.findall(r'<path[^>]*class="line"', charts["loss"])) == 4  # every run's history
    assert len(re.findall(r'<rect[^>]*class="bar"', charts["ic"])) == 3  # logged once: a bar per run
    assert len(re.findall(r'<text[^>]*class="tick"', charts["loss"])) >= 4
    legend = re.search(r'<div id="legend".*?</div>', dom, re.S).group(0)
    assert len(re.findall(r'class="legend-item"', legend)) == 4
    for name in ("run0", "run1", "run2"):
        assert f"<span>alpha / {name}</span>" in legend
    rows = re.findall(r'<tr data-run="([0-9a-f]+)"', dom)
    assert sorted(rows) == sorted(site["ids"].values())
    text = visible_text(dom)
    assert "params that differ" in text and re.search(r"\d+ params are the same in every run", text)
    assert (site["base"] / "report.png").stat().st_size > 10_000


def test_the_sort_hook_orders_rows_and_missing_values_go_last(site: Dict[str, Any], rendered: Any) -> None:
    dom, _ = rendered
    ids = site["ids"]
    assert re.findall(r'<tr data-run="([0-9a-f]+)"', dom) == [ids["run2"], ids["run1"], ids["run0"], ids["evil"]]
    assert re.search(r'<th[^>]*data-key="metrics.ic"[^>]*aria-sort="descending"', dom)


def test_nothing_from_the_store_becomes_markup(site: Dict[str, Any], rendered: Any) -> None:
    dom, _ = rendered
    for page in (dom, site["html"]):
        elements = Elements(page)
        assert elements.tags("img") == 0 and elements.tags("b") == 0
        assert elements.tags("script") == 2  # the data block and the page's script
        assert not [(t, a) for t, names in elements.found for a in names if a.startswith("on")]
        assert not re.search(r"<svg onload", page, re.I)
    text = visible_text(dom)
    for literal in (EVIL_PARAM, EVIL_EXPERIMENT, EVIL_RUN):
        assert literal in text, literal
    assert EVIL_METRIC not in text  # the store refuses such a key; it is not charted either
    raw = site["html"]
    title = re.search(r"<title>(.*?)</title>", raw, re.S).group(1)
    assert "<" not in title and html.unescape(title) in (
        "litexp report: " + EVIL_EXPERIMENT + ", alpha",
        "litexp report: alpha, " + EVIL_EXPERIMENT,
    )
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in DATA_BLOCK.search(raw).group(1)
    assert embedded(raw)["runs"][0]["params"]["x"] == EVIL_PARAM


PROBE = r"""
;(function () {
  var out = {};
  try {
    var svg = document.querySelector('figure[data-metric="loss"] svg.plot');
    var path = svg.querySelector("path.line");
    var end = path.getPointAtLength(path.getTotalLength()), m = svg.getScreenCTM();
    svg.dispatchEvent(new MouseEvent("mousemove", {bubbles: true, clientX: m.a * end.x + m.c * end.y + m.e,
                                                   clientY: m.b * end.x + m.d * end.y + m.f}));
    var tip = document.getElementById("tooltip");
    out.tooltip = tip.hidden ? null : tip.textContent;
    out.hoveredRun = +path.getAttribute("data-index");
    var first = document.querySelector(".legend-item");
    out.lines = [svg.querySelectorAll("path.line").length];
    first.click();
    out.lines.push(document.querySelector('figure[data-metric="loss"] svg.plot').querySelectorAll("path.line").length);
    out.pressed = first.getAttribute("aria-pressed");
    out.offRows = document.querySelectorAll("#runs tbody tr.off").length;
    first.click();
    out.lines.push(document.querySelector('figure[data-metric="loss"] svg.plot').querySelectorAll("path.line").length);
    function rows() {
      return Array.prototype.map.call(document.querySelectorAll("#runs tbody tr"), function (tr) {
        return tr.getAttribute("data-run");
      });
    }
    var th = document.querySelector('th[data-key="params.lr"]');
    th.click();
    out.ascending = rows();
    th.click();
    out.descending = rows();
    var box = document.querySelector('figure[data-metric="loss"] input[type="checkbox"]');
    out.logEnabled = !box.disabled;
    box.click();
    out.logLines = document.querySelector('figure[data-metric="loss"] svg.plot').querySelectorAll("path.line").length;
  } catch (e) {
    out.error = String(e && e.stack || e);
  }
  document.body.setAttribute("data-probe", JSON.stringify(out));
})();
"""


def with_probe(page: str) -> str:
    """The page with :data:`PROBE` appended to its script and the CSP's script hash updated."""
    found = SCRIPT_BLOCK.search(page)
    assert found
    old, new = found.group(1), found.group(1) + PROBE

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")

    assert f"'sha256-{digest(old)}'" in page, "the CSP does not name the script's hash"
    page = page.replace(f"'sha256-{digest(old)}'", f"'sha256-{digest(new)}'")
    return page[: found.start(1)] + new + page[found.end(1) :]


def test_hover_legend_headers_and_log_scale_work(site: Dict[str, Any]) -> None:
    probe_page = site["base"] / "probe.html"
    probe_page.write_text(with_probe(site["html"]), encoding="utf-8")
    dom, console = render(probe_page.as_uri(), site["base"], "probe")
    assert console == [], console
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, "the probe did not run"
    out = json.loads(html.unescape(found.group(1)))
    assert "error" not in out, out["error"]
    data = embedded(site["html"])
    run = data["runs"][out["hoveredRun"]]
    last = data["charts"][[c["key"] for c in data["charts"]].index("loss")]["series"][0]
    assert out["tooltip"] is not None, "no tooltip on hover"
    assert run["label"] in out["tooltip"]
    assert f"loss = {last['v'][-1]!r}" in out["tooltip"] and f"step {STEPS - 1}" in out["tooltip"]
    assert out["lines"] == [4, 3, 4]
    assert out["pressed"] == "false" and out["offRows"] == 1
    ids = site["ids"]
    assert out["ascending"] == [ids["evil"], ids["run0"], ids["run1"], ids["run2"]]  # lr 0.05 < 0.1 < 0.2 < 0.3
    assert out["descending"] == out["ascending"][::-1]
    assert out["logEnabled"] and out["logLines"] == 4


# ---- the file ------------------------------------------------------------------------------------


def test_the_page_needs_no_network(site: Dict[str, Any]) -> None:
    raw = site["html"]
    assert not re.search(r"https?:", raw, re.I), "the page names an http(s) URL"
    assert not [(t, a) for t, names in Elements(raw).found for a in names if a in ("src", "href", "srcset", "action")]
    assert "url(" not in raw and "@import" not in raw
    assert re.search(
        r'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        r"script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-[A-Za-z0-9+/=]+'; img-src data:",
        raw,
    )


def test_the_command_says_what_it_wrote(site: Dict[str, Any]) -> None:
    assert site["stdout"] == f"wrote {site['page']}: 4 runs, 2 metrics ({4 * STEPS + 3} points drawn)\n"
    data = embedded(site["html"])
    assert data["paramKeys"] == ["lr", "x"] and ["model", "lgbm"] in data["sameParams"]
    assert sorted(e["name"] for e in data["experiments"]) == sorted([EVIL_EXPERIMENT, "alpha"])  # not Default
    assert data["notes"] == []


def test_experiments_filter_and_caps(tmp_path: Path, site: Dict[str, Any]) -> None:
    out = tmp_path / "alpha.html"
    stdout = report(
        site["store"], out, "alpha", "--filter", "params.lr != '0.1'", "--max-points", "10", "--title", "lr sweep"
    )
    assert stdout.startswith(f"wrote {out}: 2 runs, 2 metrics")
    page = out.read_text(encoding="utf-8")
    assert "<title>lr sweep</title>" in page
    data = embedded(page)
    assert sorted(r["params"]["lr"] for r in data["runs"]) == ["0.2", "0.3"]
    loss = data["charts"][[c["key"] for c in data["charts"]].index("loss")]
    for series in loss["series"]:
        j = LRS.index(data["runs"][series["run"]]["params"]["lr"])
        history = [float(STEPS - i) + 0.25 * j for i in range(STEPS)]
        assert series["n"] == STEPS and len(series["v"]) <= 10
        assert series["s"][0] == 0 and series["s"][-1] == STEPS - 1  # the ends are kept
        assert max(series["v"]) == max(history) and min(series["v"]) == min(history)
        assert all(history[step] == value for step, value in zip(series["s"], series["v"]))
    assert "thinned to 10" in loss["note"]
    assert any("thinned" in note for note in data["notes"])
    report(site["store"], tmp_path / "two.html", "alpha", "--max-runs", "2")
    data = embedded((tmp_path / "two.html").read_text(encoding="utf-8"))
    assert len(data["runs"]) == 2 and any("More than 2 runs match" in n for n in data["notes"])


def test_an_existing_report_is_replaced_whole(tmp_path: Path, site: Dict[str, Any]) -> None:
    out = tmp_path / "r.html"
    out.write_text("old")
    alpha = [e["id"] for e in embedded(site["html"])["experiments"] if e["name"] == "alpha"]
    report(site["store"], out, alpha[0])  # named by id
    assert embedded(out.read_text(encoding="utf-8"))["experiments"] == [{"id": alpha[0], "name": "alpha"}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "r.html"]  # no temporary file left


def test_unknown_experiment_and_bad_output_are_one_line_errors(tmp_path: Path, site: Dict[str, Any]) -> None:
    out = tmp_path / "r.html"
    message = failed("report", "nope", "--uri", str(site["store"]), "-o", str(out))
    assert "nope" in message
    message = failed("report", "alpha", "--uri", str(site["store"]), "-o", str(tmp_path / "missing" / "r.html"))
    assert "does not exist" in message
    message = failed("report", "alpha", "--uri", str(site["store"]), "-o", str(tmp_path))
    assert "is a folder" in message
    message = failed("report", "alpha", "--uri", str(site["store"]), "-o", str(out), "--filter", "metrics.ic >")
    assert "filter" in message.lower() or "metrics.ic" in message
    assert not out.exists()
    assert cli("report", "--help").stdout.count("--") >= 6


def test_a_device_or_pipe_is_never_replaced_and_a_link_writes_its_target(tmp_path: Path, site: Dict[str, Any]) -> None:
    import stat

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    assert "not a regular file" in failed("report", "alpha", "--uri", str(site["store"]), "-o", str(pipe))
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
    target = tmp_path / "target.html"
    link = tmp_path / "link.html"
    link.symlink_to(target)
    ok("report", "alpha", "--uri", str(site["store"]), "-o", str(link))
    assert link.is_symlink() and "report-data" in target.read_text(encoding="utf-8")
