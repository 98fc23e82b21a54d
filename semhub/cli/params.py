"""What every command shares: placement flags, analysis-option flags, flag names for library
parameters, the rich progress bar and the summary table."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

# Library parameter -> the flag that sets it, where the two are not spelled alike.
FLAGS = {"n_boot": "--bootstrap", "coeffs": "--coeff", "scorers": "--scorer", "do_sample": "--sample",
         "trend_corpus": "--trend-corpus", "prompts": "--prompt/--prompts", "layer": "--layer",
         "sources": "--source", "candidates": "--candidate"}


class FiniteFloat(click.FloatRange):
    """click's FloatRange, without NaN and infinities (which compare false and slip through its bounds)."""

    def convert(self, value, param, ctx):
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def flag(parameter: str) -> str:
    return FLAGS.get(parameter, "--" + parameter.replace("_", "-"))


def click_type(spec: Any) -> Any:
    """The click type of a declared option (``semhub.option``): its choices, bounds and kind."""
    if spec.choices:
        return click.Choice([str(c) for c in spec.choices])
    if spec.kind is int:
        return click.IntRange(min=spec.min, max=spec.max) if spec.min is not None or spec.max is not None else int
    if spec.kind is float:
        return FiniteFloat(min=spec.min, max=spec.max)
    if spec.kind is Path:
        return click.Path(path_type=Path)
    return str


def spec_flags(ingredient: type, *names: str, defaults: dict[str, Any] | None = None, help: dict[str, str] | None = None):
    """The flags of an ingredient's fields (``ModelSpec``, ``DataSpec``, ``StoreSpec``, ``EngineSpec``),
    generated from its declaration as analysis options are: ``names`` picks some (default: all), in order;
    ``defaults`` and ``help`` override a field's for one command. A bool defaulting to False is an
    on-switch (``--resume``); one defaulting to None a pair (``--bos/--no-bos``); lists are comma lists."""
    specs = {s.name: s for s in ingredient.specs()}
    chosen = [specs[n] for n in (names or specs)]
    defaults, help = defaults or {}, help or {}

    def decorate(command):
        for spec in reversed(chosen):
            default = defaults.get(spec.name, spec.default)
            text = help.get(spec.name, spec.help)
            if spec.kind is bool and default is None:
                decl = click.option(f"{spec.flag}/--no-{spec.flag[2:]}", spec.name, default=None, help=text)
            elif spec.kind is bool:
                decl = click.option(spec.flag, spec.name, is_flag=True, default=bool(default), help=text)
            else:
                shown = default not in (None, [], ()) and spec.name not in help
                decl = click.option(spec.flag, spec.name, type=str if spec.multiple else click_type(spec),
                                    default=default, show_default=shown, help=text)
            command = decl(command)
        return command

    return decorate


def model_flags(*names: str, **overrides: Any):
    """The model flags of a command that loads one (``ModelSpec``'s fields): every one, or ``names``."""
    from semhub.specs.model import ModelSpec

    return spec_flags(ModelSpec, *names, **overrides)


def data_flags(*names: str, **overrides: Any):
    """The data flags of a command (``DataSpec``'s fields): every one, or ``names``."""
    from semhub.specs.data import DataSpec

    return spec_flags(DataSpec, *names, **overrides)


def split_specs(values: dict[str, Any], *ingredients: type) -> list[Any]:
    """Build each ingredient from the parsed flags that are its fields, popping them from ``values``."""
    from semhub.data.aligned import parse_views

    out = []
    for ingredient in ingredients:
        mine = {n: values.pop(n) for n in ingredient.names() if n in values}
        if isinstance(mine.get("views"), str):
            mine["views"] = parse_views(mine["views"])
        out.append(ingredient(**mine))
    return out


def parse_analysis_flags(args: list[str], pairs: tuple[str, ...], specs: list) -> dict[str, Any]:
    """An analysis's own options from the command line: ``--name VALUE``, ``--name=VALUE``, ``--flag`` /
    ``--no-flag`` for booleans (repeat a list option), and ``-o name=value``. Values are converted by
    the analysis's ``Options.build``; an unknown flag is one line listing the analysis's flags."""
    from semhub.errors import SemhubError

    by_flag = {s.flag: s for s in specs}
    values: dict[str, Any] = {}

    def put(spec, value: Any) -> None:
        if spec.multiple:
            values.setdefault(spec.name, []).append(value)
        else:
            values[spec.name] = value

    def known() -> str:
        return ", ".join(by_flag) or "none"

    for pair in pairs:
        name, eq, value = pair.partition("=")
        spec = next((s for s in specs if s.name == name.strip().replace("-", "_")), None)
        if not eq or spec is None:
            raise SemhubError(f"-o/--option: expected NAME=VALUE with NAME one of this analysis's options "
                              f"({', '.join(s.name for s in specs) or 'none'}), got {pair!r}")
        put(spec, value)
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise SemhubError(f"unexpected argument {arg!r}")
        name, eq, value = arg.partition("=")
        spec = by_flag.get(name)
        if spec is None and name.startswith("--no-") and by_flag.get("--" + name[5:]) is not None \
                and by_flag["--" + name[5:]].kind is bool and not eq:
            put(by_flag["--" + name[5:]], False)
            i += 1
            continue
        if spec is None:
            raise SemhubError(f"No such option: {name} (this analysis's own options: {known()}; "
                              "see semhub analyze --analysis NAME --help)")
        if spec.kind is bool and not spec.multiple and not eq:
            put(spec, True)
            i += 1
            continue
        if not eq:
            if i + 1 >= len(args):
                raise SemhubError(f"{name}: needs a value")
            value = args[i + 1]
            i += 1
        put(spec, value)
        i += 1
    return values


def option_help_rows(analysis: Any) -> list[tuple[str, str]]:
    from semhub.contract.analysis import options_class

    """(flag, help) rows of an analysis's own options, for ``--help``."""
    rows = []
    for spec in options_class(analysis).specs():
        metavar = "" if spec.kind is bool else f" {spec.kind.__name__.upper()}"
        extra = []
        if spec.choices:
            extra.append("one of " + ", ".join(map(str, spec.choices)))
        if spec.multiple:
            extra.append("repeatable")
        if spec.default not in (None, [], ()):
            extra.append(f"default: {spec.default}")
        flag_text = f"{spec.flag}/--no-{spec.flag[2:]}" if spec.kind is bool else spec.flag + metavar
        rows.append((flag_text, spec.help + (f" [{'; '.join(extra)}]" if extra else "")))
    return rows


class RichProgress:
    """``semhub.Progress`` drawn with rich on stderr (transient: gone when the run ends)."""

    def __init__(self, label: str):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.bar = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=self.console, transient=True)
        self.task = self.bar.add_task(label, total=None)
        self.live = False

    def __enter__(self) -> "RichProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live:
            self.bar.__exit__(*exc)

    def start(self, label: str, total: int | None) -> None:
        """The bar appears when the work starts (after the model loads), so an early error is one clean line."""
        if not self.live:
            self.bar.__enter__()
            self.live = True
        self.bar.update(self.task, total=total)

    def advance(self, n: int) -> None:
        self.bar.advance(self.task, n)

    def note(self, text: str) -> None:
        self.console.print(f"  {text}")


def print_summary(run: Any, out: Path) -> None:
    """The run's summary table, then where it was written."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # a log or a pipe: no terminal to fit, so no column is cut short
        console = Console(width=200)
    if run.summary is not None:
        console.print(run.summary)  # Summary.__rich__: the one rendering of the table
    console.print(f"run written to [bold]{out}[/bold]")
