/* litexp report: draws the runs table, the legend and one SVG chart per metric from the page's
   JSON block. Every string from the store enters the DOM as text (textContent, or the value of
   a plain attribute such as title or data-*), never as markup. */
(function () {
  "use strict";

  var errorBox = document.getElementById("errors");

  function fail(message) {
    errorBox.hidden = false;
    errorBox.textContent += message + "\n";
    document.body.setAttribute("data-state", "error");
  }

  window.addEventListener("error", function (event) {
    fail("error: " + (event.message || String(event.error)));
  });

  var NS = document.getElementById("svg-ns").namespaceURI;
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  var DASHES = ["", "6 3", "2 3", "9 3 2 3"];
  var W = 640, H = 300, M = {left: 66, right: 18, top: 14, bottom: 44};
  var BAR_ROW = 20, BAR_LABEL = 190, BAR_VALUE = 70, LABEL_CHARS = 28, NEAR = 90;
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  var NUMBER = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

  var D = null;
  var hidden = [];
  var focused = -1;
  var charts = [];
  var cols = [];
  var order = [];
  var sorted = {key: null, desc: false};
  var tooltip = document.getElementById("tooltip");

  // ---- small helpers -------------------------------------------------------------------

  function own(object, key) {
    return object !== null && Object.prototype.hasOwnProperty.call(object, key);
  }

  function make(element, attrs, text) {
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        if (attrs[name] !== null && attrs[name] !== undefined) element.setAttribute(name, String(attrs[name]));
      });
    }
    if (text !== undefined && text !== null) element.textContent = String(text);
    return element;
  }

  function el(tag, attrs, text) { return make(document.createElement(tag), attrs, text); }

  function sv(tag, attrs, text) { return make(document.createElementNS(NS, tag), attrs, text); }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function color(i) { return PALETTE[i % PALETTE.length]; }

  function dash(i) { return DASHES[Math.floor(i / PALETTE.length) % DASHES.length]; }

  function cut(text, n) { return text.length > n ? text.slice(0, n - 1) + "\u2026" : text; }

  function num(value) {
    if (typeof value === "number") return value;
    if (value === "Infinity") return Infinity;
    if (value === "-Infinity") return -Infinity;
    return null;
  }

  function fmt(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "string") {
      return value === "Infinity" ? "inf" : value === "-Infinity" ? "-inf" : value;
    }
    if (!isFinite(value)) return value > 0 ? "inf" : value < 0 ? "-inf" : "NaN";
    if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
    var a = Math.abs(value);
    if (a !== 0 && (a < 1e-4 || a >= 1e15)) return value.toExponential(4).replace(/\.?0+e/, "e");
    return String(parseFloat(value.toPrecision(6)));
  }

  function full(value) {
    if (typeof value === "number") return String(value);
    return fmt(value);
  }

  function iso(ms) {
    if (ms === null || ms === undefined) return "";
    return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "";
    if (ms < 1000) return ms + " ms";
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min " + Math.round(s - 60 * m) + " s";
    var h = Math.floor(m / 60);
    if (h < 48) return h + " h " + (m - 60 * h) + " min";
    return Math.floor(h / 24) + " d " + (h % 24) + " h";
  }

  function swatch(i) {
    var box = sv("svg", {"class": "swatch", width: 22, height: 12, viewBox: "0 0 22 12", "aria-hidden": "true"});
    box.appendChild(sv("line", {x1: 1, y1: 6, x2: 21, y2: 6, stroke: color(i), "stroke-width": 3,
                                "stroke-dasharray": dash(i) || null}));
    return box;
  }

  function ticks(lo, hi, n, integers) {
    var span = hi - lo;
    if (!(span > 0) || !isFinite(span)) return [lo];
    var step = Math.pow(10, Math.floor(Math.log10(span / n)));
    var err = n / span * step;
    if (err <= 0.15) step *= 10; else if (err <= 0.35) step *= 5; else if (err <= 0.75) step *= 2;
    if (integers && step < 1) step = 1;
    var out = [];
    for (var k = Math.ceil(lo / step); k * step <= hi && out.length < 60; k++) out.push(k * step);
    return out;
  }

  /** Ticks of a log10 axis from lo to hi (log values): 1, 2, 5 or 1 per decade, else linear. */
  function logTicks(lo, hi) {
    var decades = hi - lo, steps = decades <= 2 ? [1, 2, 5] : decades <= 5 ? [1, 3] : [1];
    var every = Math.max(1, Math.ceil(decades / 8)), out = [];
    for (var k = Math.floor(lo); k <= Math.ceil(hi); k++) {
      if (k % every) continue;
      steps.forEach(function (m) {
        var t = k + Math.log10(m);
        if (t >= lo - 1e-9 && t <= hi + 1e-9) out.push(t);
      });
    }
    if (out.length >= 3) return out;
    return ticks(Math.pow(10, lo), Math.pow(10, hi), 5, false).filter(function (v) { return v > 0; })
      .map(function (v) { return Math.log10(v); });
  }

  // ---- header, notes, params shared by every run ------------------------------------------

  function renderMeta() {
    var meta = document.getElementById("meta");
    var parts = [D.runs.length + (D.runs.length === 1 ? " run" : " runs")];
    if (D.experiments.length) {
      parts.push((D.experiments.length === 1 ? "experiment " : "experiments ") + D.experiments.map(function (e) {
        return e.name + " (id " + e.id + ")";
      }).join(", "));
    }
    if (D.filter) parts.push("filter: " + D.filter);
    parts.push("store: " + D.store);
    parts.push("written " + D.generated.replace("T", " ").replace("+00:00", " UTC") + " by litexp " + D.version);
    meta.textContent = parts.join(" \u00b7 ");
    if (D.notes.length) {
      var list = document.getElementById("notes");
      D.notes.forEach(function (note) { list.appendChild(el("li", null, note)); });
      document.getElementById("notes-section").hidden = false;
    }
    var same = document.getElementById("same-params");
    if (D.sameParams.length) {
      var box = el("details");
      box.appendChild(el("summary", null, D.sameParams.length + (D.sameParams.length === 1 ?
        " param is the same in every run" : " params are the same in every run")));
      var table = el("table", {"class": "kv"});
      var body = el("tbody");
      D.sameParams.forEach(function (pair) {
        var tr = el("tr");
        tr.appendChild(el("th", {scope: "row"}, pair[0]));
        tr.appendChild(el("td", {title: pair[1]}, pair[1]));
        body.appendChild(tr);
      });
      table.appendChild(body);
      box.appendChild(table);
      same.appendChild(box);
    }
  }

  // ---- the runs table ----------------------------------------------------------------------

  function columns() {
    var several = D.runs.some(function (r) { return r.experimentId !== D.runs[0].experimentId; });
    var list = [{key: "run", label: "run", value: function (r) { return several ? r.name || r.id.slice(0, 8) : r.label; }}];
    if (several) list.push({key: "experiment", label: "experiment", value: function (r) { return r.experiment; }});
    list.push({key: "status", label: "status", value: function (r) { return r.status; }});
    list.push({key: "start", label: "start (UTC)", numeric: true, show: iso,
               value: function (r) { return r.start; }});
    list.push({key: "duration", label: "duration", numeric: true, show: duration,
               value: function (r) { return r.start !== null && r.end !== null ? r.end - r.start : null; }});
    D.metricKeys.forEach(function (k) {
      list.push({key: "metrics." + k, label: k, group: "metrics", numeric: true, show: fmt, title: full,
                 value: function (r) { return own(r.metrics, k) ? r.metrics[k] : null; }});
    });
    D.paramKeys.forEach(function (k) {
      list.push({key: "params." + k, label: k, group: "params",
                 value: function (r) { return own(r.params, k) ? r.params[k] : null; }});
    });
    return list;
  }

  function sortValue(col, run) {
    var v = col.value(run);
    if (v === null || v === undefined) return null;
    if (col.numeric) return num(v);
    return v;
  }

  function asNumber(v) {
    if (typeof v === "number") return v;
    return typeof v === "string" && NUMBER.test(v) ? parseFloat(v) : null;
  }

  function compare(a, b) {
    var x = asNumber(a), y = asNumber(b);
    if (x !== null && y !== null) return x < y ? -1 : x > y ? 1 : 0;
    return collator.compare(String(a), String(b));
  }

  /** Sort the table by the column ``key`` (missing values last either way). */
  function sortBy(key, desc) {
    var col = null;
    cols.forEach(function (c) { if (c.key === key) col = c; });
    if (!col) return false;
    var keyed = D.runs.map(function (run, i) { return {i: i, v: sortValue(col, run)}; });
    keyed.sort(function (p, q) {
      if (p.v === null || q.v === null) return p.v === q.v ? p.i - q.i : p.v === null ? 1 : -1;
      var c = compare(p.v, q.v);
      return (desc ? -c : c) || p.i - q.i;
    });
    order = keyed.map(function (p) { return p.i; });
    sorted = {key: key, desc: desc};
    renderBody();
    return true;
  }

  function renderHead(table) {
    var head = el("thead");
    if (D.metricKeys.length || D.paramKeys.length) {
      var groups = el("tr", {"class": "groups"});
      var span = {none: 0, metrics: 0, params: 0};
      cols.forEach(function (c) { span[c.group || "none"] += 1; });
      groups.appendChild(el("th", {colspan: span.none}));
      if (span.metrics) groups.appendChild(el("th", {colspan: span.metrics, "class": "metrics"}, "metrics (latest value)"));
      if (span.params) groups.appendChild(el("th", {colspan: span.params, "class": "params"},
        D.runs.length > 1 ? "params that differ" : "params"));
      head.appendChild(groups);
    }
    var row = el("tr");
    cols.forEach(function (c) {
      var th = el("th", {scope: "col", tabindex: 0, "data-key": c.key, title: "sort by " + c.key,
                         "class": (c.group || "") + (c.numeric ? " num" : "")});
      th.appendChild(el("span", null, c.label));
      th.appendChild(el("span", {"class": "arrow", "aria-hidden": "true"}));
      function go() { sortBy(c.key, sorted.key === c.key ? !sorted.desc : false); }
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); }
      });
      row.appendChild(th);
    });
    head.appendChild(row);
    table.appendChild(head);
  }

  function renderBody() {
    var table = document.getElementById("runs");
    var old = table.querySelector("tbody");
    if (old) table.removeChild(old);
    var body = el("tbody");
    if (!D.runs.length) {
      var tr = el("tr");
      tr.appendChild(el("td", {colspan: cols.length, "class": "empty"}, "No runs match."));
      body.appendChild(tr);
    }
    order.forEach(function (i) {
      var run = D.runs[i];
      var tr = el("tr", {"data-run": run.id, "data-index": i, "class": hidden[i] ? "off" : null});
      cols.forEach(function (c) {
        var v = c.value(run);
        var text = v === null || v === undefined ? "" : c.show ? c.show(v) : String(v);
        var td = el("td", {"class": (c.group || c.key) + (c.numeric ? " num" : ""),
                           title: c.title ? c.title(v) : text || null});
        if (c.key === "run") {
          td.appendChild(swatch(i));
          td.appendChild(el("span", {"class": "name"}, text));
          td.appendChild(el("span", {"class": "id", title: run.id}, run.id.slice(0, 8)));
        } else {
          td.textContent = text;
        }
        tr.appendChild(td);
      });
      tr.addEventListener("mouseenter", function () { setFocus(i); });
      tr.addEventListener("mouseleave", function () { setFocus(-1); });
      body.appendChild(tr);
    });
    table.appendChild(body);
    table.querySelectorAll("thead th[data-key]").forEach(function (th) {
      var on = th.getAttribute("data-key") === sorted.key;
      th.setAttribute("aria-sort", on ? (sorted.desc ? "descending" : "ascending") : "none");
      th.querySelector(".arrow").textContent = on ? (sorted.desc ? " \u25bc" : " \u25b2") : "";
    });
  }

  function sortFromHash() {
    var hash = location.hash.replace(/^#/, "");
    hash.split("&").forEach(function (part) {
      if (part.indexOf("sort=") !== 0) return;
      var key;
      try { key = decodeURIComponent(part.slice(5)); } catch (e) { return; }
      var desc = key.charAt(0) === "-";
      if (!sortBy(desc ? key.slice(1) : key, desc)) sortBy(key, false);
    });
  }

  // ---- legend, visibility and focus ----------------------------------------------------------

  function charted() {
    var seen = {};
    D.charts.forEach(function (c) { c.series.forEach(function (s) { seen[s.run] = true; }); });
    return D.runs.map(function (_, i) { return !!seen[i]; });
  }

  function renderLegend() {
    var legend = document.getElementById("legend");
    var shown = charted();
    var all = el("button", {type: "button", "class": "legend-all"}, "show all");
    var none = el("button", {type: "button", "class": "legend-all"}, "hide all");
    all.addEventListener("click", function () { setHidden(function () { return false; }); });
    none.addEventListener("click", function () { setHidden(function () { return true; }); });
    legend.appendChild(all);
    legend.appendChild(none);
    D.runs.forEach(function (run, i) {
      if (!shown[i]) return;
      var item = el("button", {type: "button", "class": "legend-item", "data-index": i, "aria-pressed": "true",
                               title: run.label + " \u00b7 " + run.experiment + " \u00b7 " + run.id});
      item.appendChild(swatch(i));
      item.appendChild(el("span", null, run.label));
      item.addEventListener("click", function () {
        setHidden(function (j, was) { return j === i ? !was : was; });
      });
      item.addEventListener("mouseenter", function () { setFocus(i); });
      item.addEventListener("mouseleave", function () { setFocus(-1); });
      legend.appendChild(item);
    });
  }

  function setHidden(rule) {
    hidden = D.runs.map(function (_, j) { return rule(j, !!hidden[j]); });
    document.querySelectorAll(".legend-item").forEach(function (item) {
      item.setAttribute("aria-pressed", hidden[+item.getAttribute("data-index")] ? "false" : "true");
    });
    document.querySelectorAll("#runs tbody tr[data-index]").forEach(function (tr) {
      tr.classList.toggle("off", !!hidden[+tr.getAttribute("data-index")]);
    });
    charts.forEach(draw);
  }

  function setFocus(i) {
    focused = i;
    charts.forEach(function (st) {
      st.svg.classList.toggle("focus", i >= 0 && !hidden[i]);
      st.svg.querySelectorAll("[data-index]").forEach(function (node) {
        node.classList.toggle("on", +node.getAttribute("data-index") === i);
      });
    });
    document.querySelectorAll("#runs tbody tr[data-index]").forEach(function (tr) {
      tr.classList.toggle("lit", +tr.getAttribute("data-index") === i);
    });
  }

  // ---- charts --------------------------------------------------------------------------------

  function makeChart(c) {
    var fig = el("figure", {"class": "chart " + c.kind, "data-metric": c.key});
    var caption = el("figcaption");
    caption.appendChild(el("span", {"class": "metric-name"}, c.key));
    var st = {c: c, fig: fig, log: false, logBox: null, pts: [], marker: null};
    if (c.kind === "line") {
      var label = el("label", {"class": "log"});
      st.logBox = el("input", {type: "checkbox"});
      label.appendChild(st.logBox);
      label.appendChild(document.createTextNode(" log scale"));
      caption.appendChild(label);
      st.logBox.addEventListener("change", function () { st.log = st.logBox.checked; draw(st); });
    }
    if (c.note) caption.appendChild(el("span", {"class": "chart-note"}, c.note));
    fig.appendChild(caption);
    st.svg = sv("svg", {"class": "plot", role: "img", "aria-label": "chart of " + c.key,
                        viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "xMidYMid meet"});
    st.svg.addEventListener("mousemove", function (e) { hover(st, e); });
    st.svg.addEventListener("mouseleave", function () { unhover(st); });
    fig.appendChild(st.svg);
    return st;
  }

  function draw(st) {
    clear(st.svg);
    st.pts = [];
    if (st.c.kind === "bar") drawBars(st); else drawLines(st);
    st.marker = sv("circle", {"class": "marker", r: 4.5, cx: -10, cy: -10, visibility: "hidden"});
    st.svg.appendChild(st.marker);
    if (focused >= 0) setFocus(focused);
  }

  function nothing(st, text, height) {
    st.svg.setAttribute("viewBox", "0 0 " + W + " " + height);
    st.svg.appendChild(sv("text", {x: W / 2, y: height / 2, "text-anchor": "middle", "class": "empty"}, text));
  }

  function axisText(x, y, anchor, text, cls) {
    return sv("text", {x: x, y: y, "text-anchor": anchor, "class": cls || "tick"}, text);
  }

  function drawLines(st) {
    var c = st.c, svg = st.svg;
    var series = c.series.filter(function (s) { return !hidden[s.run]; });
    var xOf = c.x === "time" ? function (s, k) { return s.t[k] / 1000; } : function (s, k) { return s.s[k]; };
    var positive = true, any = false;
    series.forEach(function (s) {
      s.v.forEach(function (v) { if (v !== null) { any = true; if (v <= 0) positive = false; } });
    });
    st.logBox.disabled = !(positive && any);
    st.logBox.parentNode.setAttribute("title", st.logBox.disabled ? "a log scale needs values above 0" : "");
    if (st.logBox.disabled) st.log = false;
    st.logBox.checked = st.log;
    if (!series.length) return nothing(st, "every run of this chart is hidden", H / 2);
    if (!any) return nothing(st, "no finite values to draw", H / 2);
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    var ty = st.log ? function (v) { return Math.log10(v); } : function (v) { return v; };
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    series.forEach(function (s) {
      s.v.forEach(function (v, k) {
        if (v === null) return;
        var x = xOf(s, k), y = ty(v);
        if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
      });
    });
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { var pad = Math.abs(y0) * 0.05 || 1; y0 -= pad; y1 += pad; }
    var margin = (y1 - y0) * 0.04;
    y0 -= margin; y1 += margin;
    var left = M.left, right = W - M.right, top = M.top, bottom = H - M.bottom;
    function px(x) { return left + (x - x0) / (x1 - x0) * (right - left); }
    function py(y) { return bottom - (y - y0) / (y1 - y0) * (bottom - top); }
    var grid = sv("g", {"class": "axes"});
    (st.log ? logTicks(y0, y1) : ticks(y0, y1, 5, false)).forEach(function (t) {
      grid.appendChild(sv("line", {x1: left, x2: right, y1: py(t), y2: py(t), "class": "grid"}));
      grid.appendChild(axisText(left - 6, py(t) + 4, "end", fmt(st.log ? Math.pow(10, t) : t)));
    });
    ticks(x0, x1, 6, c.x === "step").forEach(function (t) {
      grid.appendChild(sv("line", {x1: px(t), x2: px(t), y1: bottom, y2: bottom + 5, "class": "tickmark"}));
      grid.appendChild(axisText(px(t), bottom + 18, "middle", fmt(t)));
    });
    grid.appendChild(sv("line", {x1: left, x2: right, y1: bottom, y2: bottom, "class": "axis"}));
    grid.appendChild(sv("line", {x1: left, x2: left, y1: top, y2: bottom, "class": "axis"}));
    grid.appendChild(axisText((left + right) / 2, H - 6, "middle",
      c.x === "time" ? "seconds since the run's first point" : "step", "axis-label"));
    svg.appendChild(grid);
    var lines = sv("g", {"class": "lines"});
    series.forEach(function (s) {
      var i = s.run, d = [], seg = 0, last = null, dots = [];
      s.v.forEach(function (v, k) {
        if (v === null || (st.log && v <= 0)) {
          if (seg === 1) dots.push(last);
          seg = 0;
          return;
        }
        var X = px(xOf(s, k)), Y = py(ty(v));
        d.push((seg ? "L" : "M") + X.toFixed(1) + " " + Y.toFixed(1));
        seg += 1;
        last = [X, Y];
        st.pts.push({i: i, s: s, k: k, x: X, y: Y});
      });
      if (seg === 1) dots.push(last);
      var path = sv("path", {d: d.join("") || "M0 0", "class": "line", "data-index": i, fill: "none", stroke: color(i),
                             "stroke-width": 1.6, "stroke-dasharray": dash(i) || null,
                             "stroke-linejoin": "round"});
      path.appendChild(sv("title", null, D.runs[i].label));
      lines.appendChild(path);
      dots.forEach(function (p) {
        lines.appendChild(sv("circle", {cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: 2.5, fill: color(i),
                                        "class": "dot", "data-index": i}));
      });
    });
    svg.appendChild(lines);
  }

  function drawBars(st) {
    var c = st.c, svg = st.svg;
    var series = c.series.filter(function (s) { return !hidden[s.run]; });
    if (!series.length) return nothing(st, "every run of this chart is hidden", H / 2);
    var height = M.top + series.length * BAR_ROW + 34;
    svg.setAttribute("viewBox", "0 0 " + W + " " + height);
    var lo = 0, hi = 0;
    series.forEach(function (s) { var v = s.v[0]; if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    if (lo === hi) hi = lo + 1;
    var left = BAR_LABEL, right = W - M.right - BAR_VALUE, bottom = M.top + series.length * BAR_ROW;
    function px(x) { return left + (x - lo) / (hi - lo) * (right - left); }
    var grid = sv("g", {"class": "axes"});
    ticks(lo, hi, 5, false).forEach(function (t) {
      grid.appendChild(sv("line", {x1: px(t), x2: px(t), y1: M.top, y2: bottom, "class": "grid"}));
      grid.appendChild(axisText(px(t), bottom + 16, "middle", fmt(t)));
    });
    grid.appendChild(sv("line", {x1: px(0), x2: px(0), y1: M.top, y2: bottom, "class": "axis"}));
    grid.appendChild(axisText((left + right) / 2, height - 4, "middle", "value (logged once per run)", "axis-label"));
    svg.appendChild(grid);
    var bars = sv("g", {"class": "bars"});
    series.forEach(function (s, row) {
      var i = s.run, v = s.v[0], y = M.top + row * BAR_ROW;
      var label = axisText(left - 8, y + BAR_ROW / 2 + 4, "end", cut(D.runs[i].label, LABEL_CHARS), "bar-label");
      label.appendChild(sv("title", null, D.runs[i].label));
      bars.appendChild(label);
      var shown = v === null ? fmt(own(D.runs[i].metrics, c.key) ? D.runs[i].metrics[c.key] : "NaN") : fmt(v);
      if (v !== null) {
        var a = px(Math.min(0, v)), b = px(Math.max(0, v));
        var rect = sv("rect", {x: a.toFixed(1), y: y + 3, width: Math.max(b - a, 1).toFixed(1), height: BAR_ROW - 6,
                               fill: color(i), "class": "bar", "data-index": i});
        rect.appendChild(sv("title", null, D.runs[i].label + ": " + full(v)));
        bars.appendChild(rect);
        st.pts.push({i: i, s: s, k: 0, x: v < 0 ? a : b, y: y + BAR_ROW / 2});
      }
      bars.appendChild(axisText((v === null ? px(0) : px(Math.max(0, v))) + 6, y + BAR_ROW / 2 + 4, "start", shown,
                                "bar-value"));
    });
    svg.appendChild(bars);
  }

  function hover(st, event) {
    var matrix = st.svg.getScreenCTM();
    if (!matrix || !st.pts.length) return;
    var p = st.svg.createSVGPoint();
    p.x = event.clientX;
    p.y = event.clientY;
    p = p.matrixTransform(matrix.inverse());
    var best = null, bestD = NEAR * NEAR;
    for (var n = 0; n < st.pts.length; n++) {
      var q = st.pts[n], dx = q.x - p.x, dy = q.y - p.y, dd = dx * dx + dy * dy;
      if (dd < bestD) { bestD = dd; best = q; }
    }
    if (!best) return unhover(st);
    st.marker.setAttribute("cx", best.x.toFixed(1));
    st.marker.setAttribute("cy", best.y.toFixed(1));
    st.marker.setAttribute("stroke", color(best.i));
    st.marker.setAttribute("visibility", "visible");
    var s = best.s, k = best.k, run = D.runs[best.i];
    clear(tooltip);
    var head = el("div", {"class": "tip-run"});
    head.appendChild(swatch(best.i));
    head.appendChild(el("span", null, run.label));
    tooltip.appendChild(head);
    tooltip.appendChild(el("div", {"class": "tip-metric"}, st.c.key + " = " + full(s.v[k])));
    if (st.c.kind === "line") {
      tooltip.appendChild(el("div", null, st.c.x === "time" ? (s.t[k] / 1000).toFixed(3) + " s after its first point"
        + " (step " + s.s[k] + ")" : "step " + s.s[k]));
    }
    tooltip.appendChild(el("div", {"class": "tip-time"}, "logged " + iso(s.t0 + s.t[k]) + " UTC"));
    tooltip.hidden = false;
    var x = event.clientX + 14, y = event.clientY + 14;
    var box = tooltip.getBoundingClientRect();
    if (x + box.width > window.innerWidth - 4) x = event.clientX - box.width - 14;
    if (y + box.height > window.innerHeight - 4) y = event.clientY - box.height - 14;
    tooltip.style.left = Math.max(x, 0) + "px";
    tooltip.style.top = Math.max(y, 0) + "px";
  }

  function unhover(st) {
    if (st.marker) st.marker.setAttribute("visibility", "hidden");
    tooltip.hidden = true;
  }

  function renderCharts() {
    var box = document.getElementById("charts");
    if (!D.charts.length) {
      box.appendChild(el("p", {"class": "empty"}, D.runs.length ? "These runs logged no metrics." : "No runs match."));
      return;
    }
    D.charts.forEach(function (c) {
      var st = makeChart(c);
      charts.push(st);
      box.appendChild(st.fig);
      draw(st);
    });
  }

  // ---- start ---------------------------------------------------------------------------------

  try {
    D = JSON.parse(document.getElementById("report-data").textContent);
    hidden = D.runs.map(function () { return false; });
    order = D.runs.map(function (_, i) { return i; });
    cols = columns();
    renderMeta();
    var table = document.getElementById("runs");
    renderHead(table);
    renderBody();
    sortFromHash();
    window.addEventListener("hashchange", sortFromHash);
    renderLegend();
    renderCharts();
    if (document.body.getAttribute("data-state") !== "error") document.body.setAttribute("data-state", "ready");
  } catch (e) {
    fail("error: " + (e && e.stack ? e.stack : String(e)));
  }
})();
