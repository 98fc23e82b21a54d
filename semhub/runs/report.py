"""One self-contained ``report.html`` per run directory: the manifest, every plot (embedded as
data URIs), a per-layer table for each result record, and a findings sentence for each.

Every string that comes from data, options or results is HTML-escaped: a dataset may hold
``<script>`` and the page must still only show it. No external resources: the file opens
offline and can be mailed as it is.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from semhub.errors import SemhubError, first_line
from semhub.files import atomic_write, read_json_object

REPORT = "report.html"
STYLE = """body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0 1em;font-variant-numeric:tabular-nums}
td,th{border:1px solid #ddd;padding:.2em .6em;text-align:right}th{background:#f4f4f4}
td.k,th.k{text-align:left}img{max-width:100%;border:1px solid #eee}.finding{background:#f6f8ff;padding:.5em .8em}
details{margin:.5em 0}pre{white-space:pre-wrap;word-break:break-all;background:#fafafa;padding:.5em}"""
# Marks the page once every plot has decoded, so a headless browser test can check it.
SCRIPT = """window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-plots-loaded", String(ok));
  document.body.setAttribute("data-plots-total", String(imgs.length));
});"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return esc(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _columns(record: dict[str, Any]) -> tuple[str, list[Any], dict[str, list[Any]]]:
    """(x name, x values, per-layer columns): every list of numbers as long as the x axis."""
    xname = "x" if "x" in record else "layers" if "layers" in record else None
    if xname is None or not isinstance(record[xname], list):
        return "", [], {}
    xs = record[xname]
    columns: dict[str, list[Any]] = {}
    candidates = dict(record.get("series", {}))
    candidates.update({k: v for k, v in record.items() if k not in (xname, "series")})
    for key, values in candidates.items():
        if isinstance(values, list) and len(values) == len(xs) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            columns[key] = values
    return ("layer" if xname == "layers" else record.get("xlabel", "x")), xs, columns


def finding(columns: dict[str, list[Any]], xname: str, xs: list[Any]) -> str:
    """One sentence per record: where each curve peaks, and its value at the last point."""
    parts = []
    for name, values in columns.items():
        finite = [(v, i) for i, v in enumerate(values) if v == v]  # NaN-safe
        if not finite:
            continue
        best, k = max(finite)
        parts.append(f"{name} peaks at {xname} {_number(xs[k])} ({_number(best)}) and ends at {_number(values[-1])}")
    return "; ".join(parts) + "." if parts else "No per-layer numbers in this record."


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif value is not None and not isinstance(value, list):
            out[f"{prefix}{key}"] = value
    return out


def _rows_html(name: str, rows: list[dict[str, Any]]) -> str:
    """A list of settings (steering: layer x coefficient) as a table, with the best row of each score."""
    flat = [_flat(r) for r in rows]
    keys = list(dict.fromkeys(k for r in flat for k in r))
    scores = [k for k in keys if "." in k and all(isinstance(r.get(k), (int, float)) for r in flat)]
    setting = [k for k in keys if "." not in k]
    sentences = []
    for key in scores:
        best = max(flat, key=lambda r: r[key])
        where = ", ".join(f"{k} {_number(best[k])}" for k in setting)
        sentences.append(f"{key} is highest ({_number(best[key])}) at {where}")
    head = "".join(f"<th>{esc(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_number(r.get(k, ''))}</td>" for k in keys) + "</tr>" for r in flat)
    found = f'<p class="finding">{esc("; ".join(sentences) + ".")}</p>' if sentences else ""
    return f"<h3>{esc(name)}</h3>{found}<table><tr>{head}</tr>{body}</table>"


def calibration_finding(cal: dict[str, Any], xs: list[Any], surface: dict[str, Any] | None = None) -> str:
    """One sentence per calibrated metric: its calibrated max over layers with p and layer, the mean's, and
    (similarity) the surface baselines it is read against."""
    parts = []
    for metric, curve in cal.get("metrics", {}).items():
        top, mean = curve.get("max") or {}, curve.get("mean") or {}
        if "score" not in top:
            continue
        where = f" at {_number(xs[top['index']])}" if "index" in top and top["index"] < len(xs) else ""
        text = (f"{metric}: calibrated max {_number(top['score'])} (p {_number(top['p'])}){where}, "
                f"mean over layers {_number(mean.get('score'))} (p {_number(mean.get('p'))})")
        floors = [f"{name} {_number(base['score'][metric])}" for name, base in (surface or {}).items()
                  if isinstance(base, dict) and metric in base.get("score", {})]
        parts.append(text + (f"; surface: {', '.join(floors)}" if floors else ""))
    head = f"Calibrated against {cal.get('permutations')} shuffles (alpha {cal.get('alpha')}"
    head += f", within {cal['perm_groups']})" if cal.get("perm_groups") else ")"
    return f"{head}: " + "; ".join(parts) + "." if parts else ""


def _record_html(record: dict[str, Any]) -> str:
    xname, xs, columns = _columns(record)
    scalars = {k: v for k, v in record.items()
               if k not in columns and k not in ("x", "layers", "series") and not isinstance(v, (list, dict))}
    out = []
    cal = record.get("calibration")
    if isinstance(cal, dict) and not cal.get("grid"):  # one model: per-layer scores beside the raw curves
        sentence = calibration_finding(cal, xs, record.get("surface"))
        if sentence:
            out.append(f'<p class="finding">{esc(sentence)}</p>')
        for name, control in (record.get("controls") or {}).items():
            sentence = calibration_finding(control, xs)
            if sentence:
                out.append(f'<p class="finding">{esc(name)}: {esc(sentence)}</p>')
        for metric, curve in cal.get("metrics", {}).items():
            for key in ("score", "p"):
                values = curve.get(key)
                if isinstance(values, list) and len(values) == len(xs):
                    columns[f"{metric} calibrated {key}"] = [float("nan") if v is None else v for v in values]
    if scalars:
        out.append("<table><tr>" + "".join(f'<th class="k">{esc(k)}</th>' for k in scalars) + "</tr><tr>"
                   + "".join(f'<td class="k">{_number(v)}</td>' for v in scalars.values()) + "</tr></table>")
    if columns:
        out.append(f'<p class="finding">{esc(finding(columns, xname, xs))}</p>')
        head = f'<th class="k">{esc(xname)}</th>' + "".join(f"<th>{esc(c)}</th>" for c in columns)
        rows = "".join(f'<tr><td class="k">{_number(x)}</td>'
                       + "".join(f"<td>{_number(col[i])}</td>" for col in columns.values()) + "</tr>"
                       for i, x in enumerate(xs))
        out.append(f"<table><tr>{head}</tr>{rows}</table>")
    tables = {k: v for k, v in record.items()
              if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)}
    out += [_rows_html(k, v) for k, v in tables.items()]
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
    try:
        return _page(run_dir, manifest, results)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:  # a hand-edited or foreign run file
        raise SemhubError(f"{run_dir}: manifest.json or results.json has an unexpected shape "
                          f"({type(exc).__name__}: {first_line(exc, default='')})") from None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _page(run_dir: Path, manifest: dict[str, Any], results: dict[str, Any]) -> str:
    model = _obj(manifest.get("model"))
    title = f"semhub report: {model.get('name', run_dir.name)}"
    body = [f"<h1>{esc(title)}</h1>",
            f"<p>{esc(model.get('family', ''))} &middot; {esc(model.get('n_layers', '?'))} layers &middot; "
            f"data {esc(_obj(manifest.get('data')).get('path', manifest.get('preset') or ''))} &middot; "
            f"seed {esc(manifest.get('seed', _obj(manifest.get('options')).get('seeds', '')))}</p>"]
    plots = run_figures(run_dir, manifest)
    if plots:
        body.append("<h2>Plots</h2>" + "".join(_plot_html(p) for p in plots))
    for key, records in results.items():
        body.append(f"<h2>{esc(key)}</h2>")
        for record in records if isinstance(records, list) else [records]:
            if isinstance(record, dict):
                body.append(_record_html(record))
    body.append(f"<h2>Manifest</h2><pre>{esc(json.dumps(manifest, indent=1, ensure_ascii=False))}</pre>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` atomically (a temporary file renamed into place)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise SemhubError(f"RUN_DIR: {run_dir} is not a directory")
    page = render(run_dir)
    return atomic_write(run_dir / REPORT, page)
