"""The text spoke: any language's text through the backbone's own tokenizer.

Claims bare language codes (``en``, ``zh``, ``pt-BR``), ``text`` (a ``.txt`` file's one view) and
``text_<tag>`` views. The
``content`` group is every real token: padding and special tokens (BOS, EOS) excluded,
because BOS carries no meaning and has a huge norm that swamps mean pooling. Under
``InputSettings(bos=False)`` (``--no-bos``) the special tokens are not added at all.
"""
from __future__ import annotations

from pathlib import Path

from semhub import hookimpl
from semhub.default_plugins.text.spoke import LANGUAGE_VIEW, TextSpoke

__all__ = ["LANGUAGE_VIEW", "TextSpoke"]


@hookimpl
def semhub_register_spokes(register) -> None:
    from semhub.default_plugins.text.romanise import RomanisedSpoke

    register(TextSpoke())
    register(RomanisedSpoke())  # zh_latn, ja_latn, ru_latn...: the script control


@hookimpl
def semhub_register_commands(cli) -> None:
    import click

    from semhub import model_flags

    @cli.command()
    @click.argument("text")
    @model_flags("model")
    @click.option("--top-k", "k", type=click.IntRange(min=1, max=20), default=3, show_default=True)
    @click.option("--every", type=click.IntRange(min=1), default=3, show_default=True,
                  help="Show every N-th layer (the last layer is always shown).")
    @click.option("--layers", default=None, help="Explicit layers instead of --every, e.g. 6-12 or 0,9,18.")
    @click.option("--lens-norm/--no-lens-norm", default=True, show_default=True)
    @click.option("--lens", "lens_name", default="logit", show_default=True,
                  help="logit, tuned (`semhub train-lens`), or a plugin's lens.")
    @click.option("--lens-path", type=click.Path(path_type=Path), default=None,
                  help="A tuned-lens folder (config.json + params.pt) [default: the model's trained lens].")
    @click.option("--out", type=click.Path(path_type=Path), default=Path("lens.png"), show_default=True,
                  help="Heatmap PNG (layers x positions, top-1 token and probability).")
    @click.option("--word", "words", multiple=True,
                  help="Also score a word (its first token, with the tokenizer's prefix-space rule) at the last "
                       "position, per layer; repeatable.")
    @click.option("--json", "as_json", is_flag=True, help="Print the top-k tokens as JSON instead of a table.")
    @model_flags("device", "dtype", "device_map", "offload_folder", "revision", "trust_remote_code")
    def lens(text, k, every, layers, lens_norm, lens_name, lens_path, out, words, as_json, **model):
        """Show what the model "is thinking": top-k logit-lens tokens per position and layer."""
        import json as jsonlib

        import semhub
        from semhub import lens_view, parse_layer_spec, parse_layers

        if not text.strip():
            raise semhub.SemhubError("TEXT is empty")
        if any("\ud800" <= c <= "\udfff" for c in text):
            raise semhub.SemhubError("TEXT holds a lone surrogate: not text a tokenizer can read")
        if any(not w.strip() for w in words):
            raise semhub.SemhubError("--word: is empty")
        if layers is not None:
            parse_layer_spec(layers)
        semhub.RunSettings(lens=lens_name, lens_norm=lens_norm, lens_path=lens_path).check()  # before the model loads
        out = semhub.check_out_file(out, suffix=".png", suffixes=(".png", ".pdf", ".svg"))
        spec = semhub.ModelSpec(**model)
        spec.check()
        bb = spec.load()
        semhub.require_text(bb)
        reading_lens = semhub.build_lens(bb, lens_name, norm=lens_norm, path=lens_path)
        L = bb.n_layers
        chosen = parse_layers(layers, L) if layers else sorted(set(range(0, L + 1, every)) | {L})
        enc = next(semhub.encode_values(bb, [text], "text", base_dir=Path(".")))  # refuses text beyond the context
        view = lens_view(bb, enc, layers=chosen, k=k, norm=lens_norm, lens=reading_lens)
        scores = None
        if words:
            sets = {w: semhub.word_token_ids(bb, [w]) for w in words}
            scores = semhub.score_token_sets(bb, [text], sets, view="text_input", layers=chosen, norm=lens_norm, lens=reading_lens)
        view.plot(out)  # written once everything it reports has been computed
        if as_json:
            payload = view.to_json()
            if scores is not None:
                payload["word_logprobs"] = {w: s[0].tolist() for w, s in scores.scores.items()}
            click.echo(jsonlib.dumps(payload, ensure_ascii=False))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"logit lens, top-{k} (probability of the first)", show_lines=True)
        table.add_column("position")
        for layer in chosen:
            table.add_column(f"L{layer}")
        for p, token in enumerate(view.tokens):
            cells = [" | ".join(repr(t)[1:-1] for t in view.top_tokens[li][p]) + f"\n{float(view.top_probs[li, p, 0]):.2f}"
                     for li in range(len(chosen))]
            table.add_row(repr(token)[1:-1], *cells)
        console = Console()
        console.print(table)
        ranked = Table(title=f"at {repr(view.tokens[-1])[1:-1]!r} (the last position): tokens by their best layer")
        for column in ("token", "best probability", "at layer"):
            ranked.add_column(column, justify="right")
        for entry in view.best_layers()[:10]:
            ranked.add_row(repr(entry["token"])[1:-1], f"{entry['probability']:.3f}", str(entry["layer"]))
        console.print(ranked)
        if scores is not None:
            words_table = Table(title="log p of each word's first token at the last position")
            words_table.add_column("word")
            for layer in chosen:
                words_table.add_column(f"L{layer}", justify="right")
            for w, s in scores.scores.items():
                words_table.add_row(repr(w), *(f"{v:.1f}" for v in s[0]))
            console.print(words_table)
        console.print(f"heatmap written to [bold]{out}[/bold]")
