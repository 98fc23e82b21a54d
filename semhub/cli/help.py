"""Grouped ``--help``: every command's flags in sections (model, data, analysis, calibration, output,
scale), drawn by rich-click, so ``semhub analyze --help`` guides instead of listing 40 flags.

One table says which section a flag belongs to (``SECTIONS``, by parameter name); a flag it does not
name is the command's own and goes first, under the command's name. Plugins' commands get the same
sections when they use the names below (``--model``, ``--data``, ``--out``...).
"""
from __future__ import annotations

from typing import Any

import click
import rich_click

# Section title -> parameter names, in the order the sections are shown.
SECTIONS: dict[str, tuple[str, ...]] = {
    "Model": ("model", "revision", "trust_remote_code", "stack", "dtype", "model_b", "layers_b", "stack_b"),
    "Data": ("data", "views", "modality", "limit", "template", "bos", "readout", "allow_outside_paths"),
    "Analysis": ("analysis", "option_pairs", "pooling", "center", "layers", "final_norm", "paper", "lens",
                 "lens_path", "lens_norm", "n_boot", "seed"),
    "Calibration and controls": ("permutations", "alpha", "aggregate", "perm_groups", "controls"),
    "Output": ("out", "json_out", "html"),
    "Scale": ("device", "device_map", "offload_folder", "batch_size", "store", "resume", "store_dtype",
              "shard_rows", "from_store", "engine", "address", "workers"),
}
# Section title -> the built-in commands it lists; a plugin's command not named here goes under "More".
COMMAND_SECTIONS: dict[str, tuple[str, ...]] = {
    "Measure": ("analyze", "reproduce", "profile", "compare", "report"),
    "Intervene and decode": ("steer", "patchscope", "lens"),
    "Lenses": ("train-lens", "fit-lens"),
    "Data": ("make-real-speech", "make-speech", "make-images", "make-clipart", "make-arithmetic", "make-code-data"),
    "Models and plugins": ("models", "plugins", "transcribe", "convert-open-clip", "convert-salmonn"),
}
HELP_CONFIG = rich_click.RichHelpConfiguration(text_markup=None,
                                               style_options_panel_border="dim", max_width=110)


def section_of(param: click.Parameter) -> str | None:
    """The section ``param`` is shown in, or None for the command's own flags."""
    for title, names in SECTIONS.items():
        if param.name in names:
            return title
    return None


class SemhubCommand(rich_click.RichCommand):
    """A command whose flags are shown in ``SECTIONS``; its own flags first, under its name."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.panels = sectioned_panels(self, ctx)
        super().format_options(ctx, formatter)


def sectioned_panels(command: click.Command, ctx: click.Context) -> list[Any]:
    """rich-click option panels for ``command``'s parameters, grouped by ``section_of``."""
    groups: dict[str, list[str]] = {}
    own = f"{(command.name or 'command').capitalize()} options"
    for param in command.get_params(ctx):
        if isinstance(param, click.Argument):
            continue
        title = section_of(param) or (own if param.name != "help" else "Help")
        groups.setdefault(title, []).append(param.name)
    order = [own, *SECTIONS, "Help"]
    return [rich_click.RichOptionPanel(title, options=groups[title]) for title in order if title in groups]


class SemhubGroup(rich_click.RichGroup):
    """The ``semhub`` group: commands listed in ``COMMAND_SECTIONS``; subcommands are ``SemhubCommand``
    unless they say otherwise."""

    command_class = SemhubCommand

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """click's own main, not rich-click's: rich-click raises ``Abort() from None`` on an interrupt,
        which drops the cause ``semhub.cli.main`` reads to tell SIGTERM (exit 143) from Ctrl-C (130);
        semhub prints its own one-line errors, so rich-click's error panels are not used anyway."""
        return click.Command.main(self, *args, **kwargs)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        known = {n for listed in COMMAND_SECTIONS.values() for n in listed}
        sections = {title: [n for n in listed if n in names] for title, listed in COMMAND_SECTIONS.items()}
        sections["More (from plugins)"] = [n for n in names if n not in known]
        self.panels = [rich_click.RichCommandPanel(title, commands=listed)
                       for title, listed in sections.items() if listed]
        super().format_options(ctx, formatter)


def write_table(formatter: click.HelpFormatter, title: str, rows: list[tuple[str, str]]) -> None:
    """One more boxed section of (name, text) rows, styled as rich-click's own panels."""
    from rich.panel import Panel
    from rich.table import Table

    table = Table(show_header=False, box=None, padding=(0, 1), expand=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for name, text in rows:
        table.add_row(name, text)
    if not rows:
        table.add_row("none", "")
    formatter.write(Panel(table, title=title, title_align="left", border_style="dim"))  # type: ignore[arg-type]


__all__ = ["COMMAND_SECTIONS", "HELP_CONFIG", "SECTIONS", "SemhubCommand", "SemhubGroup", "section_of", "sectioned_panels", "write_table"]
