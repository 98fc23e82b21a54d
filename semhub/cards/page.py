"""``card.html`` and ``compare.html``: one self-contained file each (plotly.js inlined once, nothing
fetched), opening with a one-screen overview (the hub map and the headline table), then a section
per spoke. Plots are Plotly's: exact values on hover, series toggled from the legend. Every string
from the data is escaped: HTML text with ``html.escape``, figure JSON with ``<``, ``>`` and ``&``
as JSON escapes, so no dataset string can close a tag.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from semhub.pages import Series, esc, figure, fmt, lines_figure, page, plotly_js

DEPTHS = np.linspace(0.0, 1.0, 21)
HEADLINE_METRICS = ("retrieval@1", "Eq. 1", "debiased CKA", "mutual k-NN")
STATES_NOTE = ("Which states each metric reads: Eq. 1, matched cosine and retrieval@k read the pooled states centred per view (the run's center setting, on by default); linear and debiased CKA centre by definition; mutual k-NN, CKNNA and RSA read the rows scaled to unit length and not centred (cosine neighbours and 1 - cosine dissimilarities, as platonic-rep defines them), whatever center says.")


def primary(curves: dict[str, Any]) -> tuple[list[float], list[float], str]:
    """What the hub map shows of a spoke pair: (depth, values, label). Eq. 1's calibrated score per layer
    where the card has it (continuous, 0 under the null, comparable across spokes, and not saturated at
    the top as retrieval@1 is on small samples); else (a /1 card) retrieval@1, raw."""
    eq1 = curves.get("Eq. 1")
    if eq1 is not None and eq1.calibrated:
        return eq1.depth, [np.nan if v is None else v for v in eq1.calibrated["score"]], "calibrated Eq. 1"
    c = curves.get("retrieval@1") or next(iter(curves.values()))
    return c.depth, [np.nan if v is None else v for v in c.values], c.metric


def map_rows(spokes: list) -> tuple[list[list[float]], str]:
    """The hub map's rows on the common depth grid, and what they show (the label of the first)."""
    read = [primary(s.curves) for s in spokes]
    return [np.interp(DEPTHS, depth, values).tolist() for depth, values, _ in read], (read[0][2] if read else "")


def hub_map(cards: list) -> Any:
    """Spokes x relative depth: each spoke pair's retrieval@1 on a common depth grid (one row per card
    and spoke pair when several cards are compared)."""
    import plotly.graph_objects as go

    rows, z, label = [], [], ""
    for card in cards:
        values, label = map_rows(card.spokes)
        z += values
        rows += [spoke.name if len(cards) == 1 else f"{card.label} | {spoke.name}" for spoke in card.spokes]
    fig = go.Figure(go.Heatmap(z=z, x=DEPTHS.round(2).tolist(), y=rows, colorscale="Viridis", zmin=0, zmax=1,
                               colorbar={"title": label},
                               hovertemplate=f"%{{y}}<br>depth %{{x}}<br>{label} %{{z:.3f}}<extra></extra>"))
    fig.update_layout(title=f"hub map: {label} of each view pair by relative depth (0 = embeddings, 1 = last)",
                      xaxis_title="relative depth", height=max(300, 26 * len(rows) + 140),
                      margin={"l": 260, "r": 20, "t": 50, "b": 40})
    return fig


def curves_figure(title: str, named: Iterable[tuple[str, Any]], shown: Any = None) -> Any:
    """Lines over relative depth, a 95% band where there is one, chance dotted; hover: layer and value.
    ``shown(label)`` says which lines start visible (the others are a legend click away)."""
    series = [Series(label, c.depth, c.values, band=c.ci95 or (), chance=c.chance or (), hover_x=c.layers,
                     visible=shown is None or shown(label)) for label, c in named]
    return lines_figure(title, series, "relative depth (layer / L)")


def headline_rows(card) -> list[tuple[str, str, Any]]:
    """(spoke, metric, headline) for the overview table."""
    out = []
    for spoke in card.spokes:
        for name, c in spoke.curves.items():
            if name.split(" (")[0] in HEADLINE_METRICS:
                out.append((spoke.name, name, c.headline()))
    return out


def headline_table(card) -> str:
    rows = ["<table><tr><th>spoke pair</th><th>metric</th><th>calibrated peak</th><th>p</th>"
            "<th>over the embeddings</th><th>significant layers</th><th>raw peak</th><th>95% interval</th>"
            "<th>shuffled rows reach (95%)</th><th>layer</th><th>relative depth</th></tr>"]
    for spoke, metric, h in headline_rows(card):
        ci = f"[{fmt(h.ci95[0])}, {fmt(h.ci95[1])}]" if h.ci95 else "-"
        sig = f"{h.significant[0]}-{h.significant[1]}" if h.significant else "-"
        rows.append(f'<tr><td class="name">{esc(spoke)}</td><td class="name">{esc(metric)}</td>'
                    f"<td>{fmt(h.calibrated)}</td><td>{fmt(h.p, '.3g')}</td><td>{fmt(h.over_embeddings)}</td>"
                    f"<td>{sig}</td><td>{fmt(h.peak)}</td><td>{ci}</td><td>{fmt(h.null_max)}</td><td>{esc(h.layer)}</td>"
                    f"<td>{fmt(h.depth, '.2f')}</td></tr>")
    return "".join(rows) + "</table>"


def _headline_metric(label: str) -> bool:
    return label.split(" (")[0] in HEADLINE_METRICS


def card_sections(card, prefix: str = "c") -> str:
    parts = [f"<h2>Overview</h2>{figure(hub_map([card]), f'{prefix}-hubmap')}{headline_table(card)}"
             f"<p class='small'>{esc(STATES_NOTE)}</p>"]
    probes = [l for l in card.lenses if "dominant wins" in l.curves]
    trends = [l for l in card.lenses if "dominant wins" not in l.curves]
    if probes:
        parts.append("<h2>Logit lens</h2><p class='small'>Share of positions where the dominant language's "
                     "translation beats the next token in the view's own language; it wins at layers "
                     + "; ".join(f"{esc(l.view)}: {l.wins_range[0]}-{l.wins_range[1]}" if l.wins_range
                                 else f"{esc(l.view)}: none" for l in probes) + ".</p>")
        parts.append(figure(curves_figure("dominant language wins under the lens",
                                          [(l.view, l.curves["dominant wins"]) for l in probes]), f"{prefix}-lens"))
    for i, l in enumerate(trends):
        where = f"{l.wins_range[0]}-{l.wins_range[1]}" if l.wins_range else "no layer"
        parts.append(f"<h2>{esc(l.name)}</h2><p class='small'>Language mass of the lens on {esc(l.view)} text; "
                     f"{esc(l.dominant)} holds the most at layers {where}.</p>")
        parts.append(figure(curves_figure(l.name, l.curves.items()), f"{prefix}-trends{i}"))
    if card.steering:
        s, b = card.steering, card.steering.best
        parts.append(f"<h2>Steering: {esc(s.preset)} (towards {esc(s.target)})</h2><table><tr><th>layer</th>"
                     "<th>coeff</th><th>flip rate</th><th>perplexity</th><th>random direction's flip rate</th>"
                     "<th>baseline flip rate</th>"
                     f"<th>baseline perplexity</th></tr><tr><td>{esc(b['layer'])}</td><td>{fmt(b['coeff'], 'g')}</td>"
                     f"<td>{fmt(b['flip_rate'])}</td><td>{fmt(b['perplexity'], '.1f')}</td>"
                     f"<td>{fmt(b.get('random_flip_rate'))}</td>"
                     f"<td>{fmt(b['baseline_flip_rate'])}</td><td>{fmt(b['baseline_perplexity'], '.1f')}</td></tr></table>")
    for i, spoke in enumerate(card.spokes):
        parts.append(f"<h2>{esc(spoke.name)}</h2><p class='small'>data {esc(spoke.data)}, n = {spoke.n}</p>")
        parts.append(figure(curves_figure(spoke.name, spoke.curves.items(), _headline_metric),
                            f"{prefix}-spoke{i}"))
    return "".join(parts)


def card_page(card) -> str:
    m = card.model
    intro = (f"<p class='small'>{esc(m.get('name'))} ({esc(m.get('family'))}, {card.n_layers} layers, "
             f"{esc(m.get('dtype'))}){' - quick card' if card.quick else ''}; "
             f"{fmt(card.timings.get('total_s'), '.0f')} s.</p>")
    return page(f"hub card: {card.label}", intro + card_sections(card))


def card_fragment(card) -> str:
    """For notebooks: the headline table and the hub map, plotly.js inlined (a notebook may be offline)."""
    return f"<h3>hub card: {esc(card.label)}</h3>{plotly_js()}{headline_table(card)}{figure(hub_map([card]), 'nb-hubmap')}"


def compare_table(comparison) -> str:
    cards = comparison.cards
    head = "".join(f"<th>{esc(c.label)}: peak [95%] @ depth</th>" for c in cards)
    rows = [f"<table><tr><th>section</th><th>name</th><th>metric</th>{head}<th>differs</th></tr>"]
    for row in comparison.rows:
        if row["metric"].split(" (")[0] not in (*HEADLINE_METRICS, "dominant wins"):
            continue
        cells = []
        for h in row["headlines"]:
            ci = f" [{fmt(h['ci95'][0])}, {fmt(h['ci95'][1])}]" if h["ci95"] else ""
            cells.append(f"<td>{fmt(h['peak'])}{ci} @ {fmt(h['depth'], '.2f')}</td>")
        verdict = {True: "yes", False: "no", None: "no paired test"}[row["differs"]]
        mark = ' class="diff"' if row["differs"] else ""
        rows.append(f"<tr{mark}><td class='name'>{esc(row['section'])}</td><td class='name'>{esc(row['name'])}</td>"
                    f"<td class='name'>{esc(row['metric'])}</td>{''.join(cells)}<td>{verdict}</td></tr>")
    return "".join(rows) + "</table>"


def compare_page(comparison) -> str:
    cards = comparison.cards
    body = [f"<h2>Overview</h2>{figure(hub_map(cards), 'cmp-hubmap')}"
            "<p class='small'>Highlighted rows: the cards' 95% intervals at their peaks do not overlap.</p>",
            compare_table(comparison)]
    names: dict[tuple[str, str], list[str]] = {}
    for row in comparison.rows:
        names.setdefault((row["section"], row["name"]), []).append(row["metric"])
    for i, ((section, name), metrics) in enumerate(names.items()):
        shown = [m for m in metrics if m.split(" (")[0] in (*HEADLINE_METRICS, "dominant wins")] or metrics[:1]
        series = [(f"{card.label}: {m}", card.curve(section, name, m)) for m in shown for card in cards]
        body.append(f"<h2>{esc(name)}</h2>{figure(curves_figure(name, series), f'cmp-{i}')}")
    return page("hub cards compared: " + " vs ".join(c.label for c in cards), "".join(body))
