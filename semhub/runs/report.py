"""One self-contained, interactive ``report.html`` per run directory. It leads with the story (what
the run shows, in sentences for a reader: the calibrated peak, its p-value, where it is significant,
the hub gain over the surface baselines, the controls), then the analysis's own headline table, then
the per-layer curves (Plotly: hover for exact values, click the legend to toggle a series), and folds
the details away (the static figures, every number per layer, the manifest).

Every string that comes from data, options or results is escaped (``semhub.pages``): a dataset may hold
``<script>`` and the page must still only show it. No external resources: plotly.js is inlined, the
file opens offline and can be mailed as it is.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from semhub.analyses.spans import run_around
from semhub.errors import SemhubError, first_line
from semhub.files import atomic_write, read_json_object
from semhub.pages import Series, esc, figure, lines_figure, page

REPORT = "report.html"
SUMMARY = "summary.json"
# The curve a record's sentence is about when it is not calibrated, where it has one (else its first).
LEAD_COLUMNS = ("dominant_wins", "retrieval_at_1", "transfer", "C in Y", "eq1", "top1", "kl")
MAX_FIGURES = 12  # curves drawn interactively; every number is still in the tables below them
# Marks the page once it has loaded: how many static figures decoded and how many curves Plotly drew,
# so a headless browser test can check both.
SCRIPT = """<script>window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-plots-loaded", String(ok));
  document.body.setAttribute("data-plots-total", String(imgs.length));
  document.body.setAttribute("data-curves-drawn", String(document.querySelectorAll(".plot.js-plotly-plot").length));
});</script>"""


def _number(value: Any, spec: str = ".4g") -> str:
    """A number for a table cell (four significant digits); anything else escaped."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return esc(value)
    return format(value, spec) if isinstance(value, float) else str(value)


def _short(value: Any) -> str:
    """A number for a sentence: three significant digits."""
    return _number(value, ".3g")


def _columns(record: dict[str, Any]) -> tuple[str, list[Any], dict[str, list[Any]]]:
    """(x name, x values, per-layer columns): every list of numbers as long as the x axis."""
    xname = "x" if "x" in record else "layers" if "layers" in record else None
    if xname is None or not isinstance(record[xname], list):
        return "", [], {}
    xs = record[xname]
    columns: dict[str, list[Any]] = {}
    candidates = dict(record.get("series", {})) if isinstance(record.get("series"), dict) else {}
    candidates.update({k: v for k, v in record.items() if k not in (xname, "series")})
    for key, values in candidates.items():
        if isinstance(values, list) and len(values) == len(xs) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            columns[key] = values
    return ("layer" if xname == "layers" else record.get("xlabel", "x")), xs, columns


def label_of(record: dict[str, Any], fallback: str) -> str:
    """What a record is about, for a reader: its view pair (``en-zh``), its view, or its name."""
    if isinstance(record.get("a"), str) and isinstance(record.get("b"), str):
        return f"{record['a']}-{record['b']}"
    for key in ("view", "name", "source", "pair"):
        if isinstance(record.get(key), str):
            return record[key]
    return fallback


def peak_sentence(name: str, values: list[Any], xname: str, xs: list[Any]) -> str:
    """Where one curve is highest, how far through it that is, and where it starts and ends."""
    finite = [(v, i) for i, v in enumerate(values) if isinstance(v, (int, float)) and v == v]
    if not finite:
        return f"{name} has no finite value."
    best, k = max(finite)
    where = f"{xname} {_short(xs[k])}"
    if xname == "layer" and isinstance(xs[-1], int) and xs[-1] > 0 and isinstance(xs[k], int):
        where += f" ({xs[k] / xs[-1]:.0%} of the way through)"
    return (f"{name} is highest at {where}, {_short(best)}; it starts at {_short(finite[0][0])} "
            f"and ends at {_short(finite[-1][0])}.")


def significant_span(p: list[Any], index: int, alpha: float) -> tuple[int, int] | None:
    """The contiguous run of positions around ``index`` whose p-value is at most ``alpha``."""
    return run_around([isinstance(v, (int, float)) and v <= alpha for v in p], index)


def lead_metric(cal: dict[str, Any]) -> str | None:
    """The calibrated metric a record's story leads with: retrieval@1 where there is one (what the
    terminal summary leads with), else mutual k-NN (the index that survives calibration across models,
    where CKA's trend does not), else the first."""
    metrics = list(cal.get("metrics") or {})
    for wanted in ("retrieval_at_1", "retrieval@1", "mutual k-NN"):
        found = [m for m in metrics if m.startswith(wanted)]
        if found:
            return found[0]
    return next(iter(metrics), None)


def calibrated_headline(record: dict[str, Any], xs: list[Any]) -> dict[str, Any]:
    """What a calibrated record leads with: its lead metric's aggregate (raw, calibrated score, p-value,
    layer), the significant span around it, the surface baselines and the hub gain; empty when none."""
    from semhub.analyses.similarity import baseline, headline

    cal = record.get("calibration")
    if not isinstance(cal, dict) or cal.get("grid"):
        return {}
    metric = lead_metric(cal)
    if metric is None:
        return {}
    curve = cal["metrics"][metric]
    top = curve.get(cal.get("aggregate", "max")) or curve.get("max") or {}
    if top.get("score") is None:
        return {}
    at = top.get("index") if isinstance(top.get("index"), int) and 0 <= top["index"] < len(xs) else None
    span = significant_span(curve.get("p") or [], -1 if at is None else at, float(cal.get("alpha", 0.05)))
    emb, lex = baseline(record, "embeddings", metric), baseline(record, "lexical", metric)
    gain = headline(record, metric).get("hub_gain") if emb is not None or lex is not None else None  # no surface: no gain
    return {"metric": metric, "raw": top.get("observed"), "score": top["score"], "p": top.get("p"),
            "layer": None if at is None else xs[at], "span": None if span is None else (xs[span[0]], xs[span[1]]),
            "alpha": cal.get("alpha", 0.05), "embeddings": emb, "lexical": lex, "gain": gain,
            "shuffles": f"{cal.get('permutations')} shuffles" + (f" within {cal['perm_groups']}"
                                                                 if cal.get("perm_groups") else "")}


def calibrated_story(label: str, record: dict[str, Any], xs: list[Any]) -> list[str]:
    """Sentences for a calibrated record: the calibrated aggregate with its p-value and layer, where the
    per-layer score is significant, the surface baselines and the hub gain, then each control."""
    h = calibrated_headline(record, xs)
    if not h:
        return []
    where = f" at layer {_short(h['layer'])}" if h["layer"] is not None else ""
    text = (f"{label}: {h['metric']} reaches {_short(h['raw'])}{where}, {_short(h['score'])} after calibration "
            f"against {h['shuffles']} (0 = no better than shuffled pairs; p {_short(h['p'])}).")
    if h["span"]:
        text += f" Significant (p <= {_short(h['alpha'])}) at layers {_short(h['span'][0])}-{_short(h['span'][1])}."
    else:
        text += " The peak is not significant."
    if h["gain"] is not None and (h["embeddings"] is not None or h["lexical"] is not None):
        floors = " and ".join(f"{name} {_short(v)}" for name, v in (("the embeddings", h["embeddings"]),
                                                                     ("bags of tokens", h["lexical"])) if v is not None)
        verdict = "the hub adds nothing over the surface" if h["gain"] <= 0 else f"a hub gain of {_short(h['gain'])}"
        text += f" The surface alone reaches {floors} (calibrated): {verdict}."
    out = [text]
    for name, control in (record.get("controls") or {}).items():
        entry = ((control.get("metrics") or {}).get(h["metric"]) or {}).get(control.get("aggregate", "max")) or {}
        if entry.get("score") is not None:
            out.append(f"{label}, control {name}: calibrated {_short(entry['score'])} (p {_short(entry.get('p'))}).")
    return out


def overview(headlines: list[tuple[str, dict[str, Any]]]) -> str:
    """One sentence over several calibrated records (the pairs of a run): how many peaks are significant,
    at which layers, and the range of hub gains, naming the pairs at its ends."""
    sig = [(label, h) for label, h in headlines if h["span"]]
    layers = [h["layer"] for _, h in headlines if isinstance(h["layer"], (int, float))]
    text = (f"Across {len(headlines)} pairs, the calibrated {headlines[0][1]['metric']} peak is significant for "
            f"{len(sig)}")
    if layers:
        text += f"; the peaks lie at layers {_short(min(layers))}-{_short(max(layers))}"
    gains = [(h["gain"], label) for label, h in headlines if h["gain"] is not None]
    if gains:
        lo, hi = min(gains), max(gains)
        text += (f"; the hub gain over the surface runs from {_short(lo[0])} ({lo[1]}) to {_short(hi[0])} ({hi[1]})"
                 + (f", and is nothing for {sum(g <= 0 for g, _ in gains)}" if any(g <= 0 for g, _ in gains) else ""))
    return text + "."


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif value is not None and not isinstance(value, list):
            out[f"{prefix}{key}"] = value
    return out


def _settings(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str], list[str], list[str]]:
    """A list of settings (steering: layer x coefficient) flattened: (rows, every key, setting keys, score keys)."""
    flat = [_flat(r) for r in rows]
    keys = list(dict.fromkeys(k for r in flat for k in r))
    scores = [k for k in keys if "." in k and all(isinstance(r.get(k), (int, float)) for r in flat if k in r)]
    return flat, keys, [k for k in keys if "." not in k], scores


def rows_story(name: str, rows: list[dict[str, Any]]) -> list[str]:
    """One sentence per score of a settings table: its best setting, and the control's score there."""
    flat, _, setting, scores = _settings(rows)
    out = []
    for key in [k for k in scores if not k.startswith("random_direction.")]:
        best = max((r for r in flat if key in r), key=lambda r: r[key])
        where = ", ".join(f"{k} {_short(best[k])}" for k in setting if k not in ("n",))
        text = f"{name}: {key} is highest ({_short(best[key])}) at {where}"
        control = "random_direction." + key.split(".", 1)[-1]
        if isinstance(best.get(control), (int, float)):
            text += f"; a random direction of the same norm there gives {_short(best[control])}"
        out.append(text + ".")
    return out


def _rows_table(name: str, rows: list[dict[str, Any]]) -> str:
    flat, keys, _, _ = _settings(rows)
    head = "".join(f"<th>{esc(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_number(r.get(k, ''))}</td>" for k in keys) + "</tr>" for r in flat)
    return f"<h3>{esc(name)}</h3><table><tr>{head}</tr>{body}</table>"


def _rows_series(name: str, rows: list[dict[str, Any]]) -> tuple[str, str, list[Series]] | None:
    """A settings table as lines: each score over the last numeric setting (the coefficient), one line
    per value of the others (the layer); the first score shown, the rest a legend click away."""
    flat, _, setting, scores = _settings(rows)
    numeric = [k for k in setting if k != "n" and all(isinstance(r.get(k), (int, float)) for r in flat)]
    if not numeric or not scores:
        return None
    x, groups = numeric[-1], numeric[:-1]
    series = []
    by_group: dict[tuple, list[dict[str, Any]]] = {}
    for r in sorted(flat, key=lambda r: r[x]):
        by_group.setdefault(tuple(r[g] for g in groups), []).append(r)
    for j, score in enumerate(scores):
        for group, members in by_group.items():
            tag = ", ".join(f"{g} {_number(v)}" for g, v in zip(groups, group))
            series.append(Series(f"{score}" + (f" ({tag})" if tag else ""), [r[x] for r in members],
                                 [r.get(score) for r in members], hover_x=[r[x] for r in members],
                                 visible=j == 0 or score.startswith("random_direction.") and
                                 score.split(".", 1)[1] == scores[0].split(".", 1)[1],
                                 dash="dot" if score.startswith("random_direction.") else "solid"))
    return f"{name} by {x}", x, series


def _band(record: dict[str, Any], column: str, n: int) -> list[Any]:
    ci = (record.get("ci95") or {}).get(column) if isinstance(record.get("ci95"), dict) else None
    return ci if isinstance(ci, list) and len(ci) == n and all(isinstance(b, list) and len(b) == 2 for b in ci) else []


def _null(record: dict[str, Any], column: str, n: int) -> list[Any]:
    cal = record.get("calibration") if isinstance(record.get("calibration"), dict) else {}
    mean = ((cal.get("metrics") or {}).get(column) or {}).get("null_mean")
    return mean if isinstance(mean, list) and len(mean) == n else []


def curve_figures(labelled: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, Any]]:
    """The interactive figures of a result's records: the calibrated lead metric first (when calibrated),
    then each per-layer column, one line per record where the records share their layers and columns (the
    pairs of a similarity run), else one figure per record with all its columns."""
    parsed = [(label, rec, *_columns(rec)) for label, rec in labelled]
    parsed = [p for p in parsed if p[4]]
    if not parsed:
        return []
    figures = []
    shared = len(parsed) > 1 and all(p[3] == parsed[0][3] and list(p[4]) == list(parsed[0][4]) for p in parsed)
    cal0 = parsed[0][1].get("calibration") if isinstance(parsed[0][1].get("calibration"), dict) else {}
    metric = lead_metric(cal0) if cal0 and not cal0.get("grid") else None
    if metric:
        series = []
        for label, rec, xname, xs, _ in parsed:
            score = ((rec.get("calibration") or {}).get("metrics", {}).get(metric) or {}).get("score")
            if isinstance(score, list) and len(score) == len(xs):
                series.append(Series(label, xs, score, hover_x=xs))
        if series:
            figures.append((f"calibrated {metric} (0 = the shuffled null's {1 - float(cal0.get('alpha', 0.05)):.0%} "
                            "quantile, 1 = the metric's maximum)", lines_figure(
                                f"calibrated {metric} per layer", series, parsed[0][2], yrange=(-0.02, 1.02))))
    if shared:
        xname, xs = parsed[0][2], parsed[0][3]
        for column in parsed[0][4]:
            series = [Series(label, xs, cols[column], band=_band(rec, column, len(xs)),
                             chance=_null(rec, column, len(xs)), hover_x=xs) for label, rec, _, _, cols in parsed]
            figures.append((f"{column}: 95% bootstrap bands; dotted, the shuffled null's mean",
                            lines_figure(column, series, xname)))
    else:
        for label, rec, xname, xs, cols in parsed:
            series = [Series(column, xs, values, band=_band(rec, column, len(xs)), chance=_null(rec, column, len(xs)),
                             hover_x=xs, visible=i < 4) for i, (column, values) in enumerate(cols.items())]
            figures.append((f"{label}: every per-layer series (the first four shown; click the legend for the rest)",
                            lines_figure(label, series, xname)))
    return figures


def _record_table(label: str, record: dict[str, Any]) -> str:
    """Every number of a record: its scalars, its per-layer columns (calibrated scores and p-values
    included), and anything else as JSON."""
    xname, xs, columns = _columns(record)
    cal = record.get("calibration")
    if isinstance(cal, dict) and not cal.get("grid"):
        for metric, curve in (cal.get("metrics") or {}).items():
            for key in ("score", "p"):
                values = curve.get(key)
                if isinstance(values, list) and len(values) == len(xs):
                    columns[f"{metric} calibrated {key}"] = [float("nan") if v is None else v for v in values]
    scalars = {k: v for k, v in record.items()
               if k not in columns and k not in ("x", "layers", "series") and not isinstance(v, (list, dict))}
    out = [f"<h3>{esc(label)}</h3>"]
    if scalars:
        out.append("<table><tr>" + "".join(f'<th class="k">{esc(k)}</th>' for k in scalars) + "</tr><tr>"
                   + "".join(f'<td class="k">{_number(v)}</td>' for v in scalars.values()) + "</tr></table>")
    if columns:
        head = f'<th class="k">{esc(xname)}</th>' + "".join(f"<th>{esc(c)}</th>" for c in columns)
        rows = "".join(f'<tr><td class="k">{_number(x)}</td>'
                       + "".join(f"<td>{_number(col[i])}</td>" for col in columns.values()) + "</tr>"
                       for i, x in enumerate(xs))
        out.append(f"<table><tr>{head}</tr>{rows}</table>")
    tables = {k: v for k, v in record.items() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)}
    out += [_rows_table(k, v) for k, v in tables.items()]
    rest = {k: v for k, v in record.items()
            if k not in columns and k not in scalars and k not in tables and k not in ("x", "layers")}
    if rest:
        out.append(f"<details><summary>more fields</summary><pre>{esc(json.dumps(rest, indent=1, ensure_ascii=False))}"
                   "</pre></details>")
    return "\n".join(out)


def _plot_html(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{esc(path.name)}" src="data:image/png;base64,{data}"><figcaption>{esc(path.name)}</figcaption></figure>'


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_figures(run_dir: Path, manifest: dict[str, Any]) -> list[Path]:
    """The figures the run wrote (``manifest["figures"]``; older runs: its ``*.png``), as regular files
    inside the run directory: never through a link, never a file that is not a PNG."""
    names = manifest.get("figures")
    candidates = [run_dir / str(n) for n in names] if isinstance(names, list) else sorted(run_dir.glob("*.png"))
    out = []
    for path in candidates:
        if path.parent != run_dir or path.is_symlink() or not path.is_file():
            continue
        with open(path, "rb") as fh:
            if fh.read(len(PNG_MAGIC)) == PNG_MAGIC:
                out.append(path)
    return out


MAX_RUN_FILE = 1 << 28  # 256 MiB: far above any run's JSON, far below what would exhaust memory


def _run_file(run_dir: Path, name: str) -> dict[str, Any]:
    """A run's JSON file as an object: a regular file inside the run (never through a link), bounded,
    UTF-8; anything else is one line naming the file."""
    path = run_dir / name
    if not path.exists() and not path.is_symlink():
        raise SemhubError(f"{run_dir}: not a run directory (no {name})")
    if path.is_symlink():
        raise SemhubError(f"{path}: not a regular file (a run's files are never links)")
    return read_json_object(path, "a run file", limit=MAX_RUN_FILE)


def render(run_dir: Path) -> str:
    """The report's HTML for a run directory holding ``manifest.json`` and ``results.json``."""
    manifest, results = _run_file(run_dir, "manifest.json"), _run_file(run_dir, "results.json")
    summary = _run_file(run_dir, SUMMARY) if (run_dir / SUMMARY).exists() or (run_dir / SUMMARY).is_symlink() else {}
    try:
        return _page(run_dir, manifest, results, summary)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:  # a hand-edited or foreign run file
        raise SemhubError(f"{run_dir}: manifest.json or results.json has an unexpected shape "
                          f"({type(exc).__name__}: {first_line(exc, default='')})") from None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _summary_html(summary: dict[str, Any]) -> str:
    """The analysis's own headline table (``Result.summary``, as the terminal shows it)."""
    columns, rows = summary.get("columns"), summary.get("rows")
    if not isinstance(columns, list) or not isinstance(rows, list):
        return ""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f'<td class="{"name" if i == 0 else ""}">{esc(c)}</td>' for i, c in enumerate(row))
                   + "</tr>" for row in rows if isinstance(row, list))
    return f"<p class='small'>{esc(summary.get('title', ''))}</p><table><tr>{head}</tr>{body}</table>"


def _labelled(key: str, records: Any) -> list[tuple[str, dict[str, Any]]]:
    items = records if isinstance(records, list) else [records]
    items = [r for r in items if isinstance(r, dict)]
    return [(label_of(r, key if len(items) == 1 else f"{key} {i + 1}"), r) for i, r in enumerate(items)]


def story(results: dict[str, Any]) -> list[str]:
    """The sentences the page opens with: per record, the calibrated story where the run was calibrated,
    else where its main curve peaks; per settings table, its best settings beside the random control."""
    out: list[str] = []
    for key, records in results.items():
        labelled = _labelled(key, records)
        headlines = [(label, calibrated_headline(rec, _columns(rec)[1])) for label, rec in labelled]
        headlines = [(label, h) for label, h in headlines if h]
        if len(headlines) > 1:
            out.append(overview(headlines))
        for label, rec in labelled:
            xname, xs, columns = _columns(rec)
            cal = rec.get("calibration")
            told = calibrated_story(label, rec, xs) if isinstance(cal, dict) and not cal.get("grid") else []
            if not told and columns:
                name = next((c for c in LEAD_COLUMNS if c in columns), next(iter(columns)))
                told = [f"{label}: " + peak_sentence(name, columns[name], xname, xs)]
            out += told
            for name, rows in rec.items():
                if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
                    out += rows_story(label, rows)
    return out


def _page(run_dir: Path, manifest: dict[str, Any], results: dict[str, Any], summary: dict[str, Any]) -> str:
    model = _obj(manifest.get("model"))
    title = f"semhub report: {model.get('name', run_dir.name)}"
    data = _obj(manifest.get("data")).get("path", manifest.get("preset") or "")
    what = manifest.get("analysis") or ", ".join(results)
    body = [f"<p class='small'>{esc(what)} &middot; {esc(model.get('family', ''))} &middot; "
            f"{esc(model.get('n_layers', '?'))} layers &middot; data {esc(data)} &middot; "
            f"seed {esc(manifest.get('seed', _obj(manifest.get('options')).get('seeds', '')))}</p>"]
    sentences = story(results)
    body.append("<h2>What this run shows</h2>")
    body.append("<ul class='story'>" + "".join(f"<li>{esc(s)}</li>" for s in sentences) + "</ul>" if sentences
                else "<p>No per-layer numbers or settings in this run's results.</p>")
    body.append(_summary_html(summary))
    figures: list[tuple[str, Any]] = []
    for key, records in results.items():
        labelled = _labelled(key, records)
        figures += curve_figures(labelled)
        for _, rec in labelled:
            for name, rows in rec.items():
                if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
                    drawn = _rows_series(name, rows)
                    if drawn:
                        figures.append((f"{drawn[0]} (dotted: the random direction of the same norm)",
                                        lines_figure(drawn[0], drawn[2], drawn[1], hover_name=drawn[1])))
    if figures:
        body.append("<h2>Curves</h2><p class='small'>Hover for exact values; click a legend entry to hide or "
                    "show a series (double-click: only that one).</p>")
        for i, (caption, fig) in enumerate(figures[:MAX_FIGURES]):
            body.append(f"<p class='small'>{esc(caption)}</p>{figure(fig, f'curve{i}')}")
        if len(figures) > MAX_FIGURES:
            body.append(f"<p class='small'>{len(figures) - MAX_FIGURES} more series are in the tables below.</p>")
    plots = run_figures(run_dir, manifest)
    if plots:
        body.append(f"<details><summary>The run's static figures ({len(plots)})</summary>"
                    + "".join(_plot_html(p) for p in plots) + "</details>")
    tables = [_record_table(label, rec) for key, records in results.items() for label, rec in _labelled(key, records)]
    body.append("<details><summary>Every number, per layer and setting</summary>" + "".join(tables) + "</details>")
    body.append(f"<details><summary>Manifest (model, data, every option, seed, timings)</summary>"
                f"<pre>{esc(json.dumps(manifest, indent=1, ensure_ascii=False))}</pre></details>")
    return page(title, "\n".join(body), head=SCRIPT)


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` atomically (a temporary file renamed into place)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise SemhubError(f"RUN_DIR: {run_dir} is not a directory")
    page = render(run_dir)
    return atomic_write(run_dir / REPORT, page)
