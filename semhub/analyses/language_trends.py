"""Global language trends: which language does the logit lens "speak" at each layer?

A token -> language table is estimated from per-language text (p(lang | token) under a
uniform prior; tokens seen in no corpus count as uniform). Per layer, the lens
distribution p(token) is combined with it, sum_t p(t) p(lang | t), streamed over
vocabulary chunks, and averaged over the content positions of each view's texts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from semhub.contract.analysis import Analysis
from semhub.contract.options import Options, option
from semhub.contract.result import RecordsResult
from semhub.data.corpus import read_corpus
from semhub.errors import SemhubError

if TYPE_CHECKING:  # annotations only: the heavy modules load when the analysis runs
    import torch

SITES = "trend_positions"  # the content positions read, capped at max_positions over the view


def language_table(corpora: dict[str, list[str]], tokenizer, vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(V, n_langs) p(lang | token) and a (V,) mask of tokens seen in some corpus."""
    import numpy as np
    import torch

    langs = list(corpora)
    counts = np.zeros((vocab_size, len(langs)))
    for j, lang in enumerate(langs):
        for ids in tokenizer(list(corpora[lang]), add_special_tokens=False)["input_ids"]:
            ids = [i for i in ids if i < vocab_size]
            counts[:, j] += np.bincount(ids, minlength=vocab_size)
    totals = counts.sum(0)
    if (totals == 0).any():
        empty = [lang for lang, t in zip(langs, totals) if t == 0]
        raise SemhubError(f"language trends: empty corpus for {', '.join(empty)}")
    p_tok = counts / totals  # p(token | lang)
    seen = p_tok.sum(1) > 0
    table = np.full_like(p_tok, 1.0 / len(langs))
    table[seen] = p_tok[seen] / p_tok[seen].sum(1, keepdims=True)
    return torch.tensor(table, dtype=torch.float32), torch.tensor(seen)


def trend(backbone, dataset, view: str, table: torch.Tensor, seen: torch.Tensor, layers: list[int], *,
          norm: bool, batch_size: int, max_positions: int, on_batch=None, lens=None, seed: int = 0) -> dict[str, Any]:
    """Mean language mixture per layer over up to ``max_positions`` content positions of ``view``, drawn
    uniformly (seeded) across all its texts; ``sites`` (positions x layers x languages) and ``rows``
    (each position's data row) keep the mixture per position."""
    import numpy as np
    import torch

    from semhub.lens.logit import Lens
    from semhub.lens.sites import read_lens
    from semhub.readout.capture import draw_positions
    from semhub.readout.collect import view_batches

    lens = lens or Lens(backbone, norm=norm)
    V = lens.vocab_size
    full = torch.zeros(V, table.shape[1] + 1)
    rows = min(V, table.shape[0])
    full[:rows, :-1] = table[:rows]
    full[rows:, :-1] = 1.0 / table.shape[1]  # rows the tokenizer never produces: uniform
    full[:rows, -1] = seen[:rows].float()
    per_position, position_rows = [], []  # (layers, languages + 1) per position, and its data row

    drawn, available = draw_positions((enc for _, enc in view_batches(backbone, dataset, view, batch_size)),
                                      max_positions, seed)

    def batches():
        for enc, mask in drawn:  # positions drawn across every text, not the shortest texts' first ones
            enc.groups[SITES] = mask
            yield enc

    for reading in read_lens(backbone, batches(), layers, sites=SITES, table=full, lens=lens, on_batch=on_batch):
        per_position.append(reading.mixture.double().transpose(0, 1))
        position_rows += [reading.row] * reading.mixture.shape[1]
    sites = torch.cat(per_position) if per_position else torch.zeros(0, len(layers), full.shape[1], dtype=torch.float64)
    mean = (sites.sum(0) / max(len(sites), 1)).numpy()
    return {"mass": mean[:, :-1], "known_mass": mean[:, -1], "positions": len(sites),
            "positions_available": available, "positions_seed": seed,
            "sites": sites[:, :, :-1].numpy(), "rows": np.asarray(position_rows, dtype=np.int64)}


@dataclass
class LanguageTrendsResult(RecordsResult):
    key: ClassVar[str] = "language_trends"

    def plot(self, folder):
        from semhub.plots import plot_language_trends

        return plot_language_trends(self, self.figure_path(folder))

    summary_title = "language trends: lens mass about two thirds up the network"
    summary_columns = ("text", "positions", "layer", "top language", "its mass", "dominant mass", "known mass",
                       "latent candidates (middle third)")

    def summary_rows(self) -> list[tuple[str, ...]]:
        """Per view: the middle layer's leading language, and the dominant language's share there."""
        rows = []
        for rec in self.records:
            k = len(rec["layers"]) // 2 + len(rec["layers"]) // 6  # about two thirds up: the hub region
            masses = {lang: vals[k] for lang, vals in rec["mass"].items()}
            top = max(masses, key=masses.get)
            ranked = ", ".join(f"{c['language']} {c['mass']:.2f}" for c in rec.get("latent_candidates", [])[:3])
            rows.append((rec["view"], str(rec["positions"]), str(rec["layers"][k]), top, f"{masses[top]:.2f}",
                         f"{masses.get(rec['dominant'], float('nan')):.2f}", f"{rec['known_mass'][k]:.2f}",
                         ranked or "-"))
        return rows


def latent_candidates(mass: dict[str, Any], layers: list[int], view: str) -> list[dict[str, Any]]:
    """The latent-language candidates: every language but the text's own, ranked by its mean lens mass over
    the middle third of the layers (where a hub would be read), with the layer where its mass peaks there.
    A model need not have one dominant latent language (Zhong et al. 2025): the list says how many compete."""
    import numpy as np

    depth = max(layers) or 1
    middle = [i for i, layer in enumerate(layers) if depth / 3 <= layer <= 2 * depth / 3] or list(range(len(layers)))
    out = []
    for lang, values in mass.items():
        if lang == view:
            continue
        part = np.asarray(values, dtype=np.float64)[middle]
        out.append({"language": lang, "mass": float(part.mean()), "peak_layer": layers[middle[int(part.argmax())]]})
    return sorted(out, key=lambda c: -c["mass"])


def run_language_trends(ctx) -> LanguageTrendsResult:
    from semhub.analyses.stats import row_values
    from semhub.plugins import catalog

    specs = ctx.options.trend_corpus
    if specs:
        corpora = dict(read_corpus(spec) for spec in specs)
    else:
        text_views = [v for v in ctx.dataset.views if catalog.spoke_for_view(v).modality == "text"]
        corpora = {v: [x for x in ctx.dataset.columns[v] if x] for v in text_views}
    table, seen = language_table(corpora, ctx.backbone.tokenizer, ctx.lens.vocab_size)
    langs = list(corpora)
    records = []
    for view in ctx.views:
        out = trend(ctx.backbone, ctx.dataset, view, table, seen, ctx.layers,
                    norm=ctx.settings.lens_norm, batch_size=ctx.settings.batch_size,
                    max_positions=ctx.options.max_positions, on_batch=ctx.on_batch, lens=ctx.lens,
                    seed=ctx.settings.seed)
        records.append({
            "view": view, "dominant": ctx.backbone.family.dominant_language, "positions": out["positions"],
            "positions_available": out["positions_available"], "positions_seed": out["positions_seed"],
            "layers": list(ctx.layers), "languages": langs,
            "mass": {lang: out["mass"][:, j].tolist() for j, lang in enumerate(langs)},
            "known_mass": out["known_mass"].tolist(), "table_tokens_seen": int(seen.sum()),
            "latent_candidates": latent_candidates({lang: out["mass"][:, j] for j, lang in enumerate(langs)},
                                                   list(ctx.layers), view),
            "items": row_values({lang: out["sites"][:, :, j] for j, lang in enumerate(langs)}, out["rows"],
                                len(ctx.dataset), list(ctx.layers)),
            "lens_norm": ctx.settings.lens_norm, "lens": ctx.lens.describe(),
        })
    return LanguageTrendsResult(records, {"model": ctx.backbone.name, "corpora": list(specs) or "dataset views"})


# --- the declaration: what semhub_register_analyses registers (default_plugins/analyses.py) ---


DEFAULT_MAX_POSITIONS = 200


class LanguageTrendsOptions(Options):
    trend_corpus: list[str] = option([], help="A LANG=FILE text file per language for the token->language table "
                                     "(repeatable; default: the dataset's text views).")
    max_positions: int = option(DEFAULT_MAX_POSITIONS, min=1, help="Content positions per view, drawn uniformly "
                                "(seeded by --seed) across its texts (each costs a "
                                "full-vocabulary projection per layer).")

    def check(self) -> None:
        from semhub.data.corpus import read_corpus

        for spec in self.trend_corpus:
            read_corpus(spec)  # a bad corpus fails before the model loads


class LanguageTrendsAnalysis(Analysis):
    name = "language-trends"
    min_views = 1  # a probe of one view
    description = "expected probability mass of each language under the logit lens, per layer"
    plot_name = "language_trends.png"
    input_kinds = ("text",)
    Options = LanguageTrendsOptions

    def work(self, ctx) -> int:
        return len(ctx.views) * min(len(ctx.dataset), ctx.options.max_positions)

    def run(self, ctx):
        return run_language_trends(ctx)
