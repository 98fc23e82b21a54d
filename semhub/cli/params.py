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


def placement_options(command):
    """--device-map and --offload-folder, alike on every command that loads a model."""
    command = click.option("--offload-folder", type=click.Path(path_type=Path), default=None,
                           help="With --device-map: where weights placed on \"disk\" (or that fit nowhere else) "
                                "are kept.")(command)
    return click.option("--device-map", default=None,
                        help="Spread the model over devices (accelerate): auto, balanced, sequential, a device, or "
                             "a JSON object (inline or a .json file) of module -> device.")(command)


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
    if run.summary is not None:
        console.print(run.summary)  # Summary.__rich__: the one rendering of the table
    console.print(f"run written to [bold]{out}[/bold]")
