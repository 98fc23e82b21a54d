"""The interactive HTML pages' one machinery (run reports, hub cards, comparisons): plotly.js inlined
once so a page opens offline and can be mailed as it is, figures whose JSON cannot close a tag, line
figures with hover, legend toggles and 95% bands.

Every string from data is escaped: HTML text with ``esc``, figure JSON with ``<``, ``>`` and ``&``
written as JSON escapes (``figure``), so no dataset string can close a tag or start a script.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Sequence

STYLE = """body{font:15px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:.5em 0 1em;font-variant-numeric:tabular-nums}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f3f3f3}td.name,td.k,th.k{text-align:left}
.diff{background:#ffe08a;font-weight:600}.plot{width:100%;height:420px}.small{color:#666;font-size:12px}
.story{background:#f6f8ff;padding:.6em 1em;border-left:4px solid #4c6ef5}.story li{margin:.25em 0}
.finding{background:#f6f8ff;padding:.5em .8em}img{max-width:100%;border:1px solid #eee}
details{margin:.6em 0}summary{cursor:pointer;font-weight:600}pre{white-space:pre-wrap;word-break:break-all;background:#fafafa;padding:.5em}"""
# Colours far apart in hue, so two series never read as one (Plotly's default palette repeats blues).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22")


def esc(value: Any) -> str:
    """HTML text of any value, quotes included."""
    return html.escape(str(value), quote=True)


def fmt(v: Any, spec: str = ".3f") -> str:
    """A number for a table cell; ``-`` for None, NaN and infinities."""
    if v is None:
        return "-"
    try:
        number = float(v)
    except (TypeError, ValueError):
        return esc(v)
    if isinstance(v, (bool, str)):
        return esc(v)
    return "-" if not math.isfinite(number) else format(number, spec)


def plotly_js() -> str:
    """plotly.js, inlined: the page fetches nothing."""
    from plotly.offline import get_plotlyjs

    return f"<script>{get_plotlyjs()}</script>"


def figure(fig: Any, div_id: str) -> str:
    """A Plotly figure as a div and the call that draws it, its JSON unable to close a tag."""
    import plotly.io as pio

    height = getattr(getattr(fig, "layout", None), "height", None)
    style = f' style="height:{int(height)}px"' if height else ""  # the div as tall as the figure: no gap below
    payload = pio.to_json(fig, validate=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (f'<div id="{esc(div_id)}" class="plot"{style}></div><script>(function(){{var f={payload};'
            f'Plotly.newPlot("{esc(div_id)}",f.data,f.layout,{{responsive:true,displaylogo:false}});}})();</script>')


@dataclass
class Series:
    """One line of a figure.

    Attributes:
        label: the legend entry (toggles the line, its band and its chance line together).
        x: the x values (layers, relative depth, coefficients).
        y: the values; None or NaN leaves a gap.
        band: (low, high) per point, drawn as a shaded 95% band; empty for none.
        chance: a reference value per point (chance, the null's mean), drawn dotted; empty for none.
        hover_x: the x shown on hover when it differs from ``x`` (a card's layer beside its depth).
        visible: False starts the line toggled off (``legendonly``).
        dash: the line's dash style (``solid``, ``dash``, ``dot``).
    """

    label: str
    x: Sequence[Any]
    y: Sequence[Any]
    band: Sequence[Sequence[Any]] = ()
    chance: Sequence[Any] = ()
    hover_x: Sequence[Any] = ()
    visible: bool = True
    dash: str = "solid"


def _finite(values: Sequence[Any]) -> list[Any]:
    return [v if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None for v in values]


def lines_figure(title: str, series: Sequence[Series], xaxis_title: str, hover_name: str = "layer",
                 yaxis_title: str = "", yrange: tuple[float, float] | None = None) -> Any:
    """Lines with markers, a 95% band and a dotted chance line where a series has them; each series its own
    colour; hover shows the series, its x (``hover_name``) and the value; ``yrange`` fixes the y axis."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        visible = True if s.visible else "legendonly"
        label = esc(s.label)
        shown_x = list(s.hover_x) if s.hover_x else list(s.x)
        fig.add_trace(go.Scatter(x=list(s.x), y=_finite(s.y), mode="lines+markers", name=s.label, legendgroup=s.label,
                                 customdata=shown_x, visible=visible, line={"color": colour, "dash": s.dash},
                                 hovertemplate=f"{label}<br>{esc(hover_name)} %{{customdata}}<br>%{{y:.4f}}<extra></extra>"))
        if s.band:
            lo, hi = _finite([b[0] for b in s.band]), _finite([b[1] for b in s.band])
            fig.add_trace(go.Scatter(x=[*s.x, *list(s.x)[::-1]], y=[*hi, *lo[::-1]], fill="toself", opacity=0.18,
                                     line={"width": 0, "color": colour}, fillcolor=colour, name=f"{s.label} 95%",
                                     legendgroup=s.label, showlegend=False, hoverinfo="skip", visible=visible))
        if s.chance and any(v is not None for v in s.chance):
            fig.add_trace(go.Scatter(x=list(s.x), y=_finite(s.chance), mode="lines", legendgroup=s.label,
                                     line={"dash": "dot", "width": 1, "color": colour}, name=f"{s.label} chance",
                                     showlegend=False, visible=visible,
                                     hovertemplate=f"{label} chance %{{y:.4f}}<extra></extra>"))
    xs = [x for s in series for x in s.x]
    if xs and all(isinstance(x, int) and not isinstance(x, bool) for x in xs):  # layers: whole-number ticks
        fig.update_xaxes(dtick=max(1, math.ceil((max(xs) - min(xs)) / 20)))
    if yrange is not None:
        fig.update_yaxes(range=list(yrange))
    fig.update_layout(title=title, xaxis_title=xaxis_title, yaxis_title=yaxis_title, hovermode="closest",
                      margin={"l": 55, "r": 20, "t": 50, "b": 40}, legend={"groupclick": "togglegroup"}, showlegend=True)
    return fig


def page(title: str, body: str, head: str = "") -> str:
    """A whole page: the style, plotly.js once, ``head`` (more scripts), then the body."""
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{STYLE}</style>{plotly_js()}{head}</head><body><h1>{esc(title)}</h1>{body}</body></html>\n")


__all__ = ["PALETTE", "STYLE", "Series", "esc", "figure", "fmt", "lines_figure", "page", "plotly_js"]
