"""Merges the Rust, Python and Node benchmark figures into benches/results.json, draws
benches/chart.svg (batch duration against concurrency, one panel for a standard batch and one for
a FIFO batch) and writes benches/README.md. Standard library only; run by scripts/bench.

    python3 benches/report.py benches/out/rust.json benches/out/python.json benches/out/node.json
    python3 benches/report.py --rewrite   # the READMEs and the chart again, from benches/results.json
    python3 benches/report.py --check     # fails when they differ from benches/results.json (CI)
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SLEEP = 0.020
RECORDS = 100
GROUPS = 10


# ---------------------------------------------------------------- machine and versions

def run(cmd: list[str]) -> str | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
    except Exception:
        return None


def cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))} (kernel {platform.release()})"
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}"


def lock_version(name: str) -> str | None:
    try:
        text = (ROOT / "Cargo.lock").read_text()
    except OSError:
        return None
    m = re.search(r'name = "%s"\nversion = "([^"]+)"' % re.escape(name), text)
    return m.group(1) if m else None


def machine() -> dict:
    return {
        "nproc": int(run(["nproc"]) or os.cpu_count() or 0),
        "cpu_model": cpu_model(),
        "os": os_name(),
        "memory_gb": mem_gb(),
    }


def mem_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


# ---------------------------------------------------------------- chart

# Okabe-Ito colours (told apart with the common colour-vision deficiencies); every series also has
# its own marker and dash pattern, so none depends on hue alone.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
    "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7", "grey": "#999999",
}

# (name prefix in the data, legend label, colour, marker, dash, filled marker). The first prefix
# that matches a series name gives its style; lanepool's faces have solid lines (Node: long dashes)
# and filled markers (but run_plan_async, hollow beside run_plan's).
STYLES = [
    ("ideal", "ideal (records / concurrency x 20 ms; FIFO: 10 groups at most)", "grey", None, "", False),
    ("lanepool Python", "lanepool Python", "vermillion", "circle", "", True),
    ("lanepool Node", "lanepool Node", "orange", "square", "10,3", True),
    ("lanepool Rust, Pool::run_plan", "lanepool Rust, Pool::run_plan (concurrency 10 only)", "reddish purple", "diamond", "", True),
    ("lanepool Rust, run_plan_async", "lanepool Rust, run_plan_async (concurrency 10 only)", "reddish purple", "triangle-down", "", False),
    ("ThreadPoolExecutor", "ThreadPoolExecutor (Python)", "bluish green", "plus", "7,3,2,3", False),
    ("p-map", "p-map (Node)", "black", "cross", "3,3", False),
    ("Powertools Python (BatchProcessor)", "Powertools Python BatchProcessor: one record at a time", "blue", "triangle-up", "9,4", False),
    ("Powertools Python (SqsFifoPartialProcessor)", "Powertools Python SqsFifoPartialProcessor: one record at a time", "blue", "square", "9,4", False),
    ("Powertools Python AsyncBatchProcessor", "UNBOUNDED: Powertools Python AsyncBatchProcessor (asyncio.gather, no limit)", "blue", "star", "2,2", False),
    ("Powertools TypeScript (BatchProcessor)", "UNBOUNDED: Powertools TypeScript BatchProcessor (Promise.all, no limit)", "sky blue", "star", "1,3", False),
    ("Powertools TypeScript (SqsFifoPartialProcessorAsync)", "Powertools TypeScript SqsFifoPartialProcessorAsync: one record at a time", "sky blue", "triangle-up", "12,3,3,3", False),
]


def style_for(name: str) -> tuple[str, str, str | None, str, bool]:
    for prefix, label, colour, marker, dash, filled in STYLES:
        if name.startswith(prefix):
            return label, OKABE_ITO[colour], marker, dash, filled
    return name, OKABE_ITO["grey"], "circle", "", False


def marker_svg(kind: str, x: float, y: float, colour: str, filled: bool, title: str = "") -> str:
    """One marker centred on (x, y); hollow ones are white inside so a marker under them shows."""
    fill = colour if filled else "#ffffff"
    attrs = f'fill="{fill}" stroke="{colour}" stroke-width="1.6"'
    tip = f"<title>{escape(title)}</title>" if title else ""
    r = 4.2
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" {attrs}>{tip}</circle>'
    if kind == "square":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" {attrs}>{tip}</rect>'
    if kind in ("plus", "cross"):
        d = r + 0.8 if kind == "plus" else r
        if kind == "plus":
            path = f"M{x - d:.1f},{y:.1f}H{x + d:.1f}M{x:.1f},{y - d:.1f}V{y + d:.1f}"
        else:
            path = f"M{x - d:.1f},{y - d:.1f}L{x + d:.1f},{y + d:.1f}M{x - d:.1f},{y + d:.1f}L{x + d:.1f},{y - d:.1f}"
        return f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.2">{tip}</path>'
    if kind == "diamond":
        pts = [(x, y - r * 1.3), (x + r * 1.1, y), (x, y + r * 1.3), (x - r * 1.1, y)]
    elif kind == "triangle-up":
        pts = [(x, y - r * 1.25), (x + r * 1.15, y + r * 0.85), (x - r * 1.15, y + r * 0.85)]
    elif kind == "triangle-down":
        pts = [(x, y + r * 1.25), (x + r * 1.15, y - r * 0.85), (x - r * 1.15, y - r * 0.85)]
    else:  # star
        pts = []
        for i in range(10):
            rr = r * 1.45 if i % 2 == 0 else r * 0.6
            a = math.pi / 2 + i * math.pi / 5
            pts.append((x + rr * math.cos(a), y - rr * math.sin(a)))
    points = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
    return f'<polygon points="{points}" {attrs}>{tip}</polygon>'


def ideal_curve(conc: list[int], fifo: bool) -> list[float]:
    out = []
    for c in conc:
        waves = math.ceil(RECORDS / c)
        if fifo:
            waves = max(waves, math.ceil(RECORDS / GROUPS))
        out.append(waves * SLEEP)
    return out


def chart_series(results: dict) -> tuple[dict[str, dict], list[int]]:
    """What the chart draws, all from results.json: the Python and Node sweeps, the Rust face's
    I/O case (the standard batch at concurrency 10) and Powertools Python's unbounded
    AsyncBatchProcessor from the Python face's case (b), which has no concurrency to sweep."""
    sweep = results["sweep"]
    conc = sweep["concurrency"]
    series = {"standard": dict(sweep["standard"]), "fifo": dict(sweep["fifo"])}
    for row in results.get("python", {}).get("rows", []):
        if row["case"].startswith("(b)"):
            for e in row["entries"]:
                if e["name"].startswith("Powertools AsyncBatchProcessor") and e["value"] is not None:
                    series["standard"]["Powertools Python AsyncBatchProcessor"] = [e["value"] / 1000 if row["unit"] == "ms" else e["value"]] * len(conc)
    for row in results.get("rust", {}).get("rows", []):
        for method in ("Pool::run_plan", "run_plan_async"):
            if row["case"] == f"I/O: 100 x 20 ms, c=10, {method}" and 10 in conc:
                values = [None] * len(conc)
                values[conc.index(10)] = row["lanepool"] / 1000  # ms
                series["standard"][f"lanepool Rust, {method}"] = values
    return series, conc


def chart(series: dict[str, dict], conc: list[int]) -> str:
    """Two log-log panels: duration (s) against concurrency; `series[panel][name] = [seconds...]`."""
    W = 1100
    pw, ph = 440, 320
    panels = [("standard", "Standard SQS batch: 100 records x 20 ms", 80), ("fifo", "SQS FIFO batch: 100 records in 10 groups x 20 ms", 620)]
    top = 56
    ymin, ymax = 0.01, 5.0
    xmin, xmax = 1, 50
    step = 7.5  # px between the markers of one concurrency, so that equal figures stay visible
    pad = 36  # px kept free at either end of the x axis for that spread

    def x_of(c, left):
        return left + pad + (math.log10(c) - math.log10(xmin)) / (math.log10(xmax) - math.log10(xmin)) * (pw - 2 * pad)

    def y_of(v):
        v = min(max(v, ymin), ymax)
        return top + ph - (math.log10(v) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin)) * ph

    # The legend: one entry per style, in STYLES' order, for the series either panel draws.
    names = []
    for key, _, _ in panels:
        names += ["ideal"] + list(series.get(key, {}))
    legend: dict[str, tuple] = {}
    for prefix, *_ in STYLES:
        for name in names:
            if name.startswith(prefix):
                legend.setdefault(style_for(name)[0], style_for(name))
    for name in names:
        legend.setdefault(style_for(name)[0], style_for(name))
    legend_top = top + ph + 62
    rows = math.ceil(len(legend) / 2)
    H = legend_top + rows * 21 + 52

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="#ffffff"/>',
        f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
        "Batch duration against concurrency (lower is better; log-log)</text>",
    ]
    for key, title, left in panels:
        out.append(f'<text x="{left + pw / 2}" y="{top - 10}" text-anchor="middle" font-size="13">{escape(title)}</text>')
        out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
        for v in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5):
            y = y_of(v)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e5e5e5"/>')
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
        for c in conc:
            x = x_of(c, left)
            out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#e5e5e5"/>')
            out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{c}</text>')
        out.append(f'<text x="{left + pw / 2}" y="{top + ph + 34}" text-anchor="middle">concurrency (workers / promises in flight)</text>')
        out.append(
            f'<text x="{left - 45}" y="{top + ph / 2}" text-anchor="middle" '
            f'transform="rotate(-90 {left - 45} {top + ph / 2})">batch duration (s)</text>'
        )
        ideal = ideal_curve(conc, key == "fifo")
        pts = " ".join(f"{x_of(c, left):.1f},{y_of(v):.1f}" for c, v in zip(conc, ideal))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{OKABE_ITO["grey"]}" stroke-width="7" '
                   f'stroke-opacity="0.45" stroke-linejoin="round"><title>ideal</title></polyline>')
        order = {prefix: i for i, (prefix, *_) in enumerate(STYLES)}

        def rank(name):
            return min((i for prefix, i in order.items() if name.startswith(prefix)), default=len(STYLES))

        lines = dict(sorted(series.get(key, {}).items(), key=lambda kv: rank(kv[0])))
        n = len(lines)
        marks = []
        # Lines drawn from the last style to the first, so that lanepool's lie on top.
        for k, (name, values) in reversed(list(enumerate(lines.items()))):
            label, colour, marker, dash, filled = style_for(name)
            dx = (k - (n - 1) / 2) * step
            xy = [(x_of(c, left), y_of(v), c, v) for c, v in zip(conc, values) if v is not None]
            if len(xy) > 1:  # the line at the true concurrency, so that slopes read true
                pts = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in xy)
                dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
                width = 2.2 if filled else 1.6
                out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="{width}"{dash_attr}>'
                           f"<title>{escape(label)}</title></polyline>")
            marks.append([marker_svg(marker, x + dx, y, colour, filled, f"{label}: {v:.3f} s at {c}") for x, y, c, v in xy])
        # Markers over every line, lanepool's last (on top); each series' markers are nudged
        # sideways by its own offset.
        for group in marks:
            out += group
    # The legend, in two columns below the panels.
    col_w = W / 2 - 40
    for i, (label, colour, marker, dash, filled) in enumerate(legend.values()):
        x = 40 + (i // rows) * col_w
        y = legend_top + (i % rows) * 21
        if marker is None:  # ideal
            out.append(f'<line x1="{x}" y1="{y}" x2="{x + 34}" y2="{y}" stroke="{colour}" stroke-width="7" stroke-opacity="0.45"/>')
        else:
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<line x1="{x}" y1="{y}" x2="{x + 34}" y2="{y}" stroke="{colour}" stroke-width="{2.2 if filled else 1.6}"{dash_attr}/>')
            out.append(marker_svg(marker, x + 17, y, colour, filled))
        if label.startswith("UNBOUNDED: "):
            text = f'<tspan font-weight="bold">unbounded:</tspan> {escape(label[len("UNBOUNDED: "):])}'
        else:
            text = escape(label)
        out.append(f'<text x="{x + 42}" y="{y + 4}">{text}</text>')
    notes = [
        "Powertools has no concurrency setting: each of its processors is drawn flat at its one figure. "
        "The unbounded ones start all 100 records at once.",
        "The markers of one concurrency are spread a few pixels sideways so that equal figures stay visible; lines run at the true concurrency. "
        "Rust: the benchmarks measure it at concurrency 10.",
    ]
    for i, note in enumerate(notes):
        out.append(f'<text x="40" y="{H - 30 + 16 * i}" font-size="11" fill="#555">{escape(note)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- README

# ---------------------------------------------------------------- prose: where the time goes

# The sources of rows (f) that issue 20's goals are for.
GOAL_SOURCES_F = ("SQS standard", "SQS FIFO (100 groups)", "Kinesis (100 keys)", "Kafka (100 partitions)")

# The Node face's part of "where the time goes" (benches/README.md, after the Node figures).
NODE_TIME_NOTES = [
    "### Node face: where the time goes",
    "",
    "- Rows (f) put `pool.process` beside the AWS blog's sample (16 workers shifting records from a"
    " shared array), bare p-map and a plain `for` loop that only awaits the handler, on SQS standard,"
    " SQS FIFO, Kinesis and Kafka batches of 10,000 records.",
    "- Events. `benches/node/events.mjs` builds each event in JavaScript and hands it over as the"
    " Lambda runtime does (`asDelivered`, a JSON round trip): the runtime gives a handler"
    " `JSON.parse` of the invocation body, whose strings are flat and, when equal and short (up to"
    " about 10 characters), one string object, so the map that numbers lane keys finds a group id"
    " by its pointer. Strings built in JavaScript (template literals; a UUID made with `slice` and"
    " `+`) are concatenations, each record's its own, and the map compares their characters. Until"
    " 2026-12-05 the benchmarks ran on the events as built: `node benches/node/bench.mjs"
    " --per-record-only`, two runs each, in turn, as built then as delivered, lanepool's async"
    " figure in us/record: FIFO 0.117 and 0.115 -> 0.108 and 0.108 (2.20 and 2.15 -> 1.98 and 1.97"
    " of the blog sample), the UUID row 0.189 and 0.190 -> 0.155 and 0.156, SQS, Kinesis and Kafka"
    " level (within 0.01).",
    "- What a record costs, from `perf record -F 5000 -g` of `node --perf-basic-prof` on the FIFO"
    " case (1,000 calls over one delivered event of 10,000 records in 100 groups, trivial async"
    " handler, concurrency 16: 106 ns a record; 2026-12-05; shares of all samples): 8% in"
    " `lib/decode.js`'s lean reader (one property read per value, one number written for each)"
    " and 8% more in its map lookup of a group id that differs from the record before and in"
    " comparing texts with the record before's; 8% in the native decode and the run's start and"
    " finish (the core's short path over what was read); 26% in the per-record promise"
    " bookkeeping (the handler's promise, `then`, the slot's settle callback, the microtasks); 9%"
    " in `flush` (the handler calls); 14% in the `drive` calls and the N-API around them (told"
    " what ended, the core names what starts, about one call per 16 records, its ready set among"
    " them, the clock); 3% in the collector; 2% in the kernel; the rest V8's runtime in small"
    " pieces and the process's start (compiling, building the event).",
    "- Rows (f) move by up to a third from one process to the next, more than from run to run in"
    " one process: V8 sizes its young generation as it goes, and how often it collects while a"
    " contender runs follows. Three runs of `node benches/node/bench.mjs --per-record-only` at"
    " issue 20's last step gave lanepool's async figure as SQS 0.16-0.26, FIFO 0.21-0.29, Kinesis"
    " 0.19-0.24 and Kafka 0.17-0.19 us/record; the same with the young generation fixed (`node"
    " --min-semi-space-size=16 --max-semi-space-size=16`) 0.14-0.16, 0.18-0.19, 0.18-0.19 and"
    " 0.16-0.19 (before the lean projection). The report's rows are one `scripts/bench` run, with"
    " Node's defaults.",
    "- Part of that spread was the driver's own: V8 kept finished calls' closures alive through young"
    " collections, and with them their record lists, so each collection copied them again (`node"
    " --trace-gc-nvp`: 1.49 MB survived a scavenge, 2-3 ms a pause, on 10,000-record SQS batches)."
    " A call now lets go of its batch when it settles (`test/retention.test.js`): 0.17 MB and 0.3 ms."
    " Over one `--per-record-only` run the collector's pauses went from 153 to 115 ms in all.",
    "- The FIFO row pays most for where its event sits: lanepool reads each record's fields (the"
    " rules check every identifier and lane key), the blog sample and p-map only pass the record"
    " on, and between lanepool's runs the other contenders and the other sources' events push the"
    " 10,000-record event out of the CPU's caches. One Pool over the FIFO event alone: 150-162 ns a"
    " record; the same with the other three events' records walked between runs: 184-199 ns; after"
    " the SQS event in turn 159-162, after all three 187 (medians of 50 runs, /tmp scripts, at"
    " the retention fix).",
    "- `node benches/node/ab.mjs --save DIR`, then `node benches/node/ab.mjs DIR`, runs a saved build"
    " against the current one in one process, in turn, round by round, and prints new/old per source"
    " (async and sync handlers). The two share one heap, so a change in what the collector copies"
    " shows on both: compare fresh processes in turn for that.",
    "- What issue 20 changed, each step measured: identifiers are checked, not read (the core asks"
    " for the texts of the records the report names only, `BatchPlan::decode_checked` and"
    " `BatchRun::read_identifiers`); each distinct text crosses once (no string per record is"
    " joined); the reader is compiled per projection, so property reads are not megamorphic; a"
    " `drive` call reads the clock once, not once per record told and started; the core's ready"
    " queue is a set of bits with a summary word (the lowest ready record found by a scan of a few"
    " words) where a heap sifted for each lane's next record; a record's `eventSource` is parsed"
    " once, and not at all when it has record 0's text number; the projection's slots are checked"
    " without a division per slot;"
    " lane keys and Kafka lanes are interned without copies; the driver makes its settle callbacks"
    " once per slot, not two closures per record, and no longer calls `util.types.isProxy` per"
    " record; Kafka events are projected too (they were read field by field through N-API, then"
    " listed again); sync handlers run up to the call's concurrency per `drive` call (with the"
    " deadline checked between them, the rest given back unstarted) instead of one; a Kafka event"
    " a face read plainly takes the core's Kafka short path (`BatchPlan::decode_read_kafka`: no"
    " view walked, no lane text per record), and plans keep identifiers only as the report names"
    " them (a Kafka plan keeps each record's offset and its group's name, about half a Kafka"
    " record's cost); a lane's waiting records are a chain of indices, not a queue per lane; the"
    " driver's microtasks are reactions of a resolved promise, not `queueMicrotask` (which makes"
    " an AsyncResource per call); a whole-number check no longer calls libm's `trunc`; a lean"
    " projection for the short paths (one number per value read, no kind bytes, no slot for a"
    " step of a path; the full projection is read only when they decline).",
    "- What is left is mostly the promise per record and the reader: `then` on the handler's"
    " promise makes a derived promise the blog sample's `await` does not, and a settle callback and"
    " a microtask follow. Drivers that `await` instead were tried and cost more, because the core"
    " must be told what ended before it names what starts: workers that each wait on a shared"
    " promise for the next `drive` pay two awaits a record, and an async function per record pays"
    " its own promise and frame. The reader's property reads are a few nanoseconds a record; the"
    " map lookup that numbers a lane key differing from the record before is most of what a FIFO"
    " or Kinesis record costs beyond an SQS one (about 10 ns in decode alone on events as"
    " delivered).",
    "- Lane keys. The goal rows' keys repeat (100 groups, keys or partitions); the row `Kinesis (a"
    " UUID key per record)` is what a producer that only spreads records over shards sends: a"
    " random UUID partition key per record, so 10,000 lanes. `lib/decode.js` numbered every lane"
    " key through a `Map`, and for such keys V8 hashes each fresh string in a runtime call (about"
    " 16 ns for 8 characters, 60 for 36: JSON.parse interns values only up to about 10) and grows"
    " the Map as distinct keys come: about 150 ns a record, decode alone 310-390 ns a record. Now a"
    " node with many distinct texts sends each record's text as it is (after 256 distinct ones"
    " within 1,024 records if they average more than 10 characters, else once nearly all of the"
    " first 2,048 records had their own), and the core hashes them (foldhash, a table sized for"
    " them; an all-ASCII table of texts is read as UTF-8 at once). Short keys that repeat stay with"
    " the Map, which finds those for less than the copy costs. `node benches/node/ab.mjs` against"
    " the build before (21 rounds): that row 638.5 -> 314.5 ns a record async (0.49), 502.8 ->"
    " 227.9 sync (0.45); the goal rows 0.98-1.01. Decode alone on fresh JSON.parse'd events (as"
    " the Lambda runtime makes them; a /tmp script, the two decode modules in one process, in"
    " turn): a UUID partition key per record 0.54-0.57 of before, a short key per record 0.62-0.63,"
    " 400 or 1,000 short or UUID keys in turn 0.95-1.16 (noise between runs is about 0.1), 100 keys"
    " level. What that row still costs over the others is the table of 10,000 texts (V8's `join`"
    " copies about 35 ns a UUID), their hashing into 10,000 lanes, and the lanes themselves.",
    "- `require('lanepool')`: the package's main is `lanepool.cjs`, one file that"
    " `bindings-node/bundle.js` (esbuild) makes of `index.js`, `binding.js` and `lib/`, its"
    " whitespace minified. Node's loader spends about 0.2 ms on each file it resolves, reads and"
    " wraps; the nine files it read before the bundle were most of lanepool's own 4.3 ms (Node 20;"
    " median of 31 fresh processes each, one after the other: 6.65 ms before, 4.61 ms after, a"
    " stub 2.33 ms; Node 22 6.22 and 4.12 ms; Node 24 5.83 and 3.94 ms). Of what is left, finding"
    " and loading the platform package's addon (`dlopen` and its N-API registration) is about"
    " 0.8 ms, the bundle's compile and run most of the rest; the stub's share is Node's own"
    " first resolution through an `exports` map.",
    "",
]

PYTHON_TIME_NOTES = [
    "### Python face: where the time goes",
    "",
    "- `process_async` with a handler that never waits (rows (a) and (k)): a record costs the"
    " handler call and its coroutine's first step, run by the driver in the record's own copy of the"
    " caller's context (`context.run(coro.send, None)`), and one call into the core that reports it"
    " and starts the next record (`BatchRun.complete_step`). The driver starts a worker task for each"
    " record the core lets start; a worker goes on with the next record as long as the core has one"
    " to start at once and gives the loop a turn every 32 records, so the event loop is crossed a few"
    " hundred times a batch instead of more than once a record. Counted with cProfile on 10,000"
    " records at 2 workers: 161 loop iterations and 319 `call_soon` where there were 15,002 and"
    " 25,002 (a Task, its done callback and a wake of the driver per record). What is left is the"
    " core's share (decoding the event, the lane bookkeeping, the report) and the coroutine object"
    " itself. `asyncio.gather` + `Semaphore` pays a Task per record and, past the limit, a future"
    " per record waiting on the semaphore, at any worker count.",
    "- A handler that waits (rows (b) and (c)) suspends inside the worker's task: the driver hands"
    " the future it waits on to the task unchanged, so the loop wakes it, and a deadline cancels it,"
    " as it would a task of its own. There the ideal is the bound and lanepool stands beside"
    " `asyncio.gather`.",
    "- `import lanepool` loads the native module and the exception classes only: `typing`,"
    " `collections.abc` and the `TypedDict` and `Protocol` classes that name the options (most of"
    " what it used to cost) come on first use of `lanepool.BatchOptions`, `lanepool.LambdaContext`,"
    " ..., and `asyncio` with the driver on the first `async def` handler. `scripts/bench` takes the median"
    " of 20 fresh interpreters from the installed layout.",
    "",
]


def fmt(v: float, unit: str) -> str:
    if unit == "s":
        return f"{v * 1000:.0f} ms"
    if unit == "ms":
        return f"{v:.2f} ms" if v < 100 else f"{v:.0f} ms"
    if unit == "ns/record":
        return f"{v:.0f} ns"
    if unit == "us/record":
        return f"{v:.2f} µs"
    return f"{v:.3g} {unit}"


def readme(results: dict) -> str:
    m = results["machine"]
    v = results["versions"]
    lines = [
        "# Benchmarks",
        "",
        "lanepool side by side with the libraries people would otherwise use, every rival in the same",
        "process run as lanepool. Figures are medians of several runs; a ratio is lanepool / rival",
        "(below 1.0: lanepool is faster; against *ideal*, 1.00 is perfect).",
        "",
        f"Reproduce: `{results['command']}` (installs the rivals into git-ignored `benches/.venv` and",
        "`benches/node/node_modules`, builds what is missing, writes `benches/results.json`,",
        "`benches/chart.svg` and this file).",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m.get('memory_gb')} GB, {m['os']}; "
        f"{results['date']}; lanepool {v.get('lanepool_commit')}.",
        f"Versions: rustc {v.get('rustc')}, rayon {v.get('rayon')}; Python {v.get('python')}, "
        f"aws-lambda-powertools {v.get('aws-lambda-powertools')}; Node {v.get('node')}, "
        f"@aws-lambda-powertools/batch {v.get('@aws-lambda-powertools/batch')}, p-map {v.get('p-map')}.",
        "",
        "The machine was shared with other work while these figures were taken: small differences"
        " (a few percent, and more for the microsecond figures) are noise.",
        "",
        "![batch duration against concurrency](chart.svg)",
        "",
        "The chart draws the two sweeps at the end of this file, the Rust face's I/O case (the standard",
        "batch at concurrency 10) and Powertools Python's `AsyncBatchProcessor` from the Python face's",
        "case (b). Powertools' processors have no concurrency setting and are drawn flat; the legend marks",
        "as *unbounded* the ones that start every record at once.",
        "",
        "## Goals",
        "",
        "| goal | figure | met |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {g} | {f} | {'yes' if ok else '**no**'} |" for g, f, ok in goals(results)]
    lines.append("")
    for face, title in (("rust", "Rust core"), ("python", "Python face"), ("node", "Node face")):
        data = results.get(face)
        if not data:
            continue
        lines += [f"## {title}", ""]
        if face == "rust":
            lines += ["| case | lanepool | rival | rival's figure | ratio | goal |", "| --- | --- | --- | --- | --- | --- |"]
            for r in data["rows"]:
                for j, rv in enumerate(r["rivals"]):
                    first = j == 0
                    lines.append(
                        f"| {r['case'] if first else ''} | {fmt(r['lanepool'], r['unit']) if first else ''} | "
                        f"{rv['name']} | {fmt(rv['value'], r['unit'])} | {rv['ratio']:.2f} | {(r['goal'] or '') if first else ''} |"
                    )
            lines.append("")
            continue
        for r in data["rows"]:
            lines += [f"**{r['case']}** (goal: {r['goal']})", "", f"| library | figure | {r['primary']} / this |", "| --- | --- | --- |"]
            for e in r["entries"]:
                ratio = f"{e['ratio']:.2f}" if e["ratio"] is not None else "-"
                lines.append(f"| {e['name']} | {fmt(e['value'], r['unit'])} | {ratio} |")
            lines.append("")
        if face == "python":
            im, s = data["import_ms"], data["sizes"]
            wheel = f"{s['wheel_bytes'] / 1e6:.2f} MB ({s['wheel']})" if s.get("wheel_bytes") else "not built"
            lines += [
                f"`python -X importtime -c \"import lanepool\"`: {im['lanepool_cumulative_ms']:.2f} ms "
                f"({import_runs(im)}; goal <= 3 ms). Wheel: {wheel}; extension module "
                f"{(s['extension_bytes'] or 0) / 1e6:.2f} MB uncompressed (goal < 2 MB).",
                "",
            ]
            lines += PYTHON_TIME_NOTES
        else:
            sizes = ", ".join(f"`{k}` {b / 1e6:.2f} MB" for k, b in data["sizes"].items())
            rq = data["require_ms"]
            by_node = rq.get("by_node") or {"": {"total_ms": rq["lanepool_require_ms"]}}
            figures = "; ".join(
                f"{label + ': ' if label else ''}{t['total_ms']:.2f} ms"
                + (f" (a stub package with the same package.json: {t['floor_ms']:.2f} ms, so"
                   f" {t['own_ms']:.2f} ms is lanepool's own)" if "floor_ms" in t else "")
                for label, t in by_node.items())
            runs = f", median of {rq['runs']} fresh processes" if rq.get("runs") else ""
            lines += [
                f"`require('lanepool')` from a handler file, npm's installed layout{runs}: {figures}"
                f" (goal <= 5 ms). {sizes} (goal < 2 MB).",
                "",
            ]
            lines += NODE_TIME_NOTES
    lines += [
        "## Running one face",
        "",
        "```sh",
        "CARGO_TARGET_DIR=target-bench cargo run --release -p lanepool-benches -- [--quick] [--json out.json]",
        "benches/.venv/bin/python benches/python/bench.py [--quick] [--no-sweep] [--kafka-only] [--json out.json]",
        "node benches/node/bench.mjs [--quick] [--no-sweep] [--kafka-only] [--json out.json]",
        "python3 benches/report.py benches/out/rust.json benches/out/python.json benches/out/node.json",
        "```",
        "",
        "Rivals: Rust `rayon::scope` on a rayon pool of the same size, `std::thread::scope` with one chunk"
        " per thread, and a rayon group-by (a HashMap of groups, one task per group; no report, no skip"
        " rule: a lower bound). Python: Powertools' `BatchProcessor`, `SqsFifoPartialProcessor"
        "(skip_group_on_error=True)` and `AsyncBatchProcessor` through `process_partial_response` /"
        " `async_process_partial_response`, `ThreadPoolExecutor` (FIFO: one task per message group),"
        " `asyncio.gather` with a `Semaphore`. Node: Powertools' `BatchProcessor` and"
        " `SqsFifoPartialProcessorAsync({ skipGroupOnError: true })` through `processPartialResponse`,"
        " `p-map` (FIFO: one task per group), `Promise.all`. Every rival builds the same partial batch"
        " response and each run checks it.",
        "",
        "Kafka (Amazon MSK events; `--kafka-only` runs just these cases in either face). Python (h) and (i):"
        " 100 records over 5 partitions with 2 keys each, 20 ms each, 10 workers, with `ordering=\"auto\"`"
        " (a lane per topic-partition: the ideal is the largest partition x 20 ms, 0.4 s) and"
        " `ordering=\"key\"` (a lane per topic-partition and record key: the largest key lane x 20 ms,"
        " 0.2 s), goal within 10% of the ideal, against Powertools' `BatchProcessor(EventType.Kafka)`"
        " (one record at a time) and a `ThreadPoolExecutor(10)` with one task per lane; Python (j): a"
        " trivial handler on 10,000 records over 100 partitions (10 keys each) with both orderings,"
        " beside lanepool on a standard SQS batch of as many records and Powertools'"
        " `BatchProcessor(EventType.Kafka)`. Node (a) runs the same 10,000-record Kafka batch with"
        " both orderings beside p-map with one task per partition (Powertools for TypeScript has no"
        " Kafka processor). These contenders run in turn, round by round.",
        "",
    ]
    sweep = results.get("sweep")
    if sweep and sweep.get("concurrency"):
        conc = sweep["concurrency"]
        for key, title in (("standard", "Standard batch, 100 records x 20 ms"), ("fifo", "FIFO batch, 100 records in 10 groups x 20 ms")):
            lines += [f"## Sweep: {title} (seconds)", "", "| library | " + " | ".join(f"c={c}" for c in conc) + " |",
                      "| --- |" + " --- |" * len(conc)]
            lines.append("| ideal | " + " | ".join(f"{x:.3f}" for x in ideal_curve(conc, key == "fifo")) + " |")
            for name, vals in sweep[key].items():
                lines.append(f"| {name} | " + " | ".join(f"{x:.3f}" for x in vals) + " |")
            lines.append("")
    return "\n".join(lines) + "\n"


def import_runs(im: dict) -> str:
    """How the Python import figure was taken (older results have no run count)."""
    if not im.get("runs"):
        return "median of fresh interpreters"
    extra = ""
    if im.get("import_wall_delta_ms") is not None:
        extra = f", wall time over a bare interpreter {im['import_wall_delta_ms']:.2f} ms"
    return f"median of {im['runs']} fresh interpreters{extra}"


def goals(results: dict) -> list[tuple[str, str, bool]]:
    out = []
    rust = results.get("rust")
    if rust:
        rows = {r["case"]: r for r in rust["rows"]}
        for r in rust["rows"]:
            if r["case"].startswith("scope"):
                ratio = r["rivals"][0]["ratio"]
                out.append((f"Rust {r['case']}: lanepool / rayon <= 1.0", f"{ratio:.2f}", ratio <= 1.0))
            elif r["case"].startswith("lanes"):
                out.append((f"Rust {r['case']}: < 1 µs per record", fmt(r["lanepool"], r["unit"]), r["lanepool"] < 1000))
            elif r["case"].startswith("I/O"):
                ratio = r["rivals"][0]["ratio"]
                out.append((f"Rust {r['case']}: within 10% of ideal", f"{ratio:.3f} x ideal", ratio <= 1.1))
    for face in ("python", "node"):
        data = results.get(face)
        if not data:
            continue
        for r in data["rows"]:
            ent = {e["name"]: e["value"] for e in r["entries"]}
            if r["case"].startswith("(a)"):
                if face == "python":
                    tpe = ent.get("ThreadPoolExecutor")
                    ok = r["lanepool"] <= 3 and tpe is not None and r["lanepool"] < tpe
                    out.append(("Python (a) <= 3 µs/record and below ThreadPoolExecutor",
                                f"{r['lanepool']:.2f} µs vs {tpe:.2f} µs", ok))
                else:
                    pm = ent.get("p-map (10)")
                    out.append(("Node (a) at most p-map's µs/record", f"{r['lanepool']:.2f} µs vs {pm:.2f} µs",
                                pm is not None and r["lanepool"] <= pm))
            elif face == "node" and r["case"].startswith("(f)"):
                # Issue 20's goals, on its four sources: <= 0.2 µs/record, i.e. at least 2x ahead
                # of bare p-map and within 2.5x of the blog sample; a sync handler cheaper still.
                # (The row with a UUID key per record has no goal: it shows what 10,000 lanes
                # cost.)
                source = r["case"].split("records, ")[1].split(",")[0]
                if source not in GOAL_SOURCES_F:
                    continue
                lp = r["lanepool"]
                blog = ent.get("AWS blog sample (16 workers)")
                pmap = ent.get("p-map (16), bare (no response)")
                sync = ent.get("lanepool pool.process, sync handler")
                out.append((f"Node (f) {source}: <= 0.2 µs/record", f"{lp:.2f} µs", lp <= 0.2))
                if pmap is not None:
                    out.append((f"Node (f) {source}: at least 2x ahead of bare p-map",
                                f"{pmap / lp:.2f}x", pmap / lp >= 2))
                if blog is not None:
                    out.append((f"Node (f) {source}: within 2.5x of the blog sample",
                                f"{lp / blog:.2f}x", lp / blog <= 2.5))
                if sync is not None:
                    out.append((f"Node (f) {source}: a sync handler cheaper still",
                                f"{sync:.2f} µs vs {lp:.2f} µs", sync < lp))
            elif face == "python" and r["case"].startswith("(k)"):
                rival = next(e for e in r["entries"] if e["name"] != r["primary"])
                out.append((f"Python {r['case']}: at most {rival['name']}",
                            f"{r['lanepool']:.2f} µs vs {rival['value']:.2f} µs", rival["ratio"] <= 1.0))
            elif face == "python" and r["case"].startswith("(l)") and not r["ideal"]:
                rival = next(e for e in r["entries"] if e["name"] != r["primary"])
                out.append((f"Python {r['case']}: within noise of {rival['name']}",
                            f"{r['lanepool']:.2f} µs vs {rival['value']:.2f} µs", rival["ratio"] <= 1.1))
            elif r["ideal"]:
                ratio = r["lanepool"] / r["ideal"]
                out.append((f"{face.capitalize()} {r['case'][:3]} within 10% of ideal {r['ideal']:.1f} s",
                            f"{ratio:.3f} x ideal", ratio <= 1.1))
        if face == "python":
            im = data["import_ms"]["lanepool_cumulative_ms"]
            out.append(("Python import <= 3 ms", f"{im:.2f} ms", im <= 3))
            s = data["sizes"]
            size = s.get("wheel_bytes") or s.get("extension_bytes")
            what = "wheel" if s.get("wheel_bytes") else "extension module (no wheel)"
            if size:
                out.append((f"Python {what} < 2 MB", f"{size / 1e6:.2f} MB", size < 2e6))
        else:
            rq = data["require_ms"]
            for label, t in rq.get("by_node", {"": {"total_ms": rq["lanepool_require_ms"]}}).items():
                own = f"; a stub with the same package.json {t['floor_ms']:.2f} ms" if "floor_ms" in t else ""
                out.append((f"Node require <= 5 ms {label}".rstrip(), f"{t['total_ms']:.2f} ms{own}",
                            t["total_ms"] <= 5))
            for k, b in data["sizes"].items():
                out.append((f"Node `{k}` < 2 MB", f"{b / 1e6:.2f} MB", b < 2e6))
    return out


# ---------------------------------------------------------------- the top-level README's table

README_BEGIN = "<!-- benchmark figures: written by benches/report.py from benches/results.json -->"
README_END = "<!-- end of benchmark figures -->"


def summary_table(results: dict) -> str:
    """The latest figures for the top-level README: every case with each rival's figure and the
    ratio lanepool / rival (ratios below 1.0: lanepool is faster)."""
    m, v = results["machine"], results["versions"]
    lines = [
        README_BEGIN,
        "",
        "| face | case | lanepool | rivals: figure (lanepool / rival) |",
        "| --- | --- | --- | --- |",
    ]
    rust = results.get("rust")
    if rust:
        for r in rust["rows"]:
            if r["case"].startswith("lanes") and not r["case"].endswith("run_plan, 10k rec/100 groups"):
                continue
            rivals = " · ".join(f"{rv['name']} {fmt(rv['value'], r['unit'])} ({rv['ratio']:.2f})" for rv in r["rivals"])
            lines.append(f"| Rust | {r['case']} | {fmt(r['lanepool'], r['unit'])} | {rivals} |")
    for face in ("python", "node"):
        data = results.get(face)
        if not data:
            continue
        for r in data["rows"]:
            if not r["case"][:3] in ("(a)", "(b)", "(c)"):
                continue
            rivals = []
            if r.get("ideal"):
                rivals.append(f"ideal {fmt(r['ideal'], r['unit'])} ({r['lanepool'] / r['ideal']:.2f})")
            for e in r["entries"]:
                if e["name"].startswith("lanepool") or e["name"] == "ideal" or e["ratio"] is None:
                    continue
                rivals.append(f"{e['name']} {fmt(e['value'], r['unit'])} ({e['ratio']:.2f})")
            lines.append(f"| {face.capitalize()} | {r['case']} | {fmt(r['lanepool'], r['unit'])} | {' · '.join(rivals)} |")
    lines += [
        "",
        f"Measured {results['date']} on {m['nproc']} CPUs ({m['cpu_model']}), {m['os']}, lanepool "
        f"{v.get('lanepool_commit')}, with `{results['command']}`; every rival runs in the same process "
        "run. All figures, goals and the sweep: [benches/README.md](benches/README.md).",
        "",
        README_END,
    ]
    return "\n".join(lines)


def update_root_readme(results: dict, check: bool = False) -> bool:
    """Writes (or with check=True, compares) the figures block of the top-level README."""
    path = ROOT / "README.md"
    text = path.read_text()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < 0:
        raise SystemExit(f"{path}: the benchmark figures markers are missing")
    new = text[:start] + summary_table(results) + text[end + len(README_END):]
    if check:
        return new == text
    path.write_text(new)
    return True


# ---------------------------------------------------------------- main

def main(paths: list[str]) -> None:
    faces = {}
    for p in paths:
        data = json.loads(Path(p).read_text())
        faces[data["face"]] = data
    versions = {
        "lanepool_commit": run(["git", "rev-parse", "--short", "HEAD"]),
        "rustc": (run(["rustc", "--version"]) or "").replace("rustc ", "") or None,
        "rayon": lock_version("rayon"),
        "python": faces.get("python", {}).get("python"),
        "node": faces.get("node", {}).get("node"),
    }
    versions.update(faces.get("python", {}).get("versions", {}))
    versions.update(faces.get("node", {}).get("versions", {}))
    sweep = {"concurrency": None, "standard": {}, "fifo": {}}
    for face in ("python", "node"):
        sw = faces.get(face, {}).get("sweep") or {}
        if sw.get("concurrency"):
            sweep["concurrency"] = sw["concurrency"]
            for key in ("standard", "fifo"):
                sweep[key].update(sw[key])
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": os.environ.get("BENCH_COMMAND", "scripts/bench"),
        "machine": machine(),
        "versions": versions,
        "note": "ratios are lanepool / rival; medians of several runs on a machine shared with other work",
        **faces,
        "sweep": sweep,
    }
    results["goals"] = [{"goal": g, "figure": f, "met": ok} for g, f, ok in goals(results)]
    (HERE / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    if sweep["concurrency"]:
        (HERE / "chart.svg").write_text(chart(*chart_series(results)))
    (HERE / "README.md").write_text(readme(results))
    update_root_readme(results)
    print("wrote benches/results.json, benches/chart.svg, benches/README.md and README.md's figures")


def check() -> None:
    """Fails when the READMEs' figures or the chart are not the ones benches/results.json holds."""
    results = json.loads((HERE / "results.json").read_text())
    stale = []
    if not update_root_readme(results, check=True):
        stale.append("README.md")
    if (HERE / "README.md").read_text() != readme(results):
        stale.append("benches/README.md")
    if results["sweep"].get("concurrency") and (HERE / "chart.svg").read_text() != chart(*chart_series(results)):
        stale.append("benches/chart.svg")
    if stale:
        raise SystemExit(f"{', '.join(stale)}: figures differ from benches/results.json; run scripts/bench"
                         " (or python3 benches/report.py --rewrite)")
    print("README figures and chart match benches/results.json")


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        check()
    elif sys.argv[1:] == ["--rewrite"]:
        data = json.loads((HERE / "results.json").read_text())
        (HERE / "README.md").write_text(readme(data))
        update_root_readme(data)
        if data["sweep"].get("concurrency"):
            (HERE / "chart.svg").write_text(chart(*chart_series(data)))
    else:
        main(sys.argv[1:])
