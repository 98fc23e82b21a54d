"""The spoke contract: how a modality plugin hands model inputs to the core.

A spoke turns raw view values into model inputs for one backbone and says which token
positions belong to the content (position groups). It knows nothing about analyses.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch


@dataclass
class Encoded:
    """One padded batch: ``inputs`` go to the model as keyword arguments; ``groups`` are (B, T) bool masks.

    Every spoke provides the group ``content`` (the tokens that carry the view's meaning,
    special tokens and padding excluded); capture pools over a named group. Spokes whose
    values are strings may add ``offsets`` (B, T, 2): each token's character span in its
    value, so analyses can find words (dictionary probes) without knowing the tokenizer.
    ``meta`` carries per-batch facts a spoke's own analyses read (an image's patch grid shape).
    """

    inputs: dict[str, torch.Tensor]
    groups: dict[str, torch.Tensor]
    offsets: torch.Tensor | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(next(iter(self.groups.values())).shape[0])


@runtime_checkable
class Spoke(Protocol):
    """What ``semhub_register_spokes`` expects; see docs/plugins/contracts.md."""

    name: str
    modality: str

    def claims(self, view: str) -> bool:
        """True if this spoke handles a view name such as ``en`` or ``audio_es``."""

    def validate(self, value: Any, base_dir: Path) -> str | None:
        """A one-line problem with a raw value (checked at load time), or None."""

    def length_hint(self, value: Any) -> int:
        """A cheap size estimate so batches group similar lengths (less padding)."""

    def encode(self, values: list[Any], backbone: Any, base_dir: Path) -> Encoded:
        """Model inputs and position groups for one batch of values.

        A spoke whose inputs depend on other columns of the same rows (the audio spoke's
        teacher-forced transcript) sets ``reads_rows = True``: runs then also pass ``view=`` (the
        view being encoded) and ``rows=`` (one dict per value: every column of its row).
        """


OPTIONAL: dict[str, Any] = {
    "input_kind": "text",        # what the model must read (text, audio, image); checked before loading
    "source_view": None,         # a derived view's source: source_view(view) -> the column it derives from
    "derive": None,              # derive(view, values) -> the derived column's values (default: the source's)
    "reads_rows": False,         # encode() also takes view= and rows= (every column of each value's row)
    "readouts": None,            # --readout names this spoke knows: name -> meaning
    "check_readout": None,       # check_readout(name, columns): refuse a read-out before the model loads
    "default_model": None,       # the model this modality runs on by default
    "suggested_model": None,     # a model to name in "needs a model that reads ..." errors
    "default_dataset": None,     # the built-in dataset this modality reads by default
}
"""A spoke's optional attributes and their defaults (docs/plugins/contracts.md: spokes). ``Spoke`` is a protocol
(any object with the required members), so these are read through ``optional``, never guessed twice."""


def optional(spoke: Any, name: str) -> Any:
    """A spoke's optional attribute ``name``, or its default from ``OPTIONAL``."""
    return getattr(spoke, name, OPTIONAL[name])


_OUTSIDE_PATHS: ContextVar[bool] = ContextVar("semhub_outside_paths", default=False)


@contextmanager
def allow_outside_paths(allowed: bool = True) -> Iterator[None]:
    """Within the block, media paths may point outside their data file's folder (``--allow-outside-paths``).

    By default a dataset cannot make semhub read arbitrary files (``../../home/...``, ``/etc/...``).
    """
    token = _OUTSIDE_PATHS.set(allowed)
    try:
        yield
    finally:
        _OUTSIDE_PATHS.reset(token)


def outside_paths_allowed() -> bool:
    return _OUTSIDE_PATHS.get()


@dataclass(frozen=True)
class InputSettings:
    """Run-wide choices about how inputs are encoded, which a spoke reads with ``input_settings()``.

    Attributes:
        bos: prepend the tokenizer's special tokens (BOS) to text (default True). The paper's
            dictionary lens tokenizes without them (``add_special_tokens=False``); spokes whose
            inputs are not a tokenizer's text (images, audio prompts) ignore it.
        readout: where a spoke reads an input, in the spoke's own terms (``--readout``; the audio
            spoke: which prompt and text Whisper's decoder reads). None: the spoke's default. A
            spoke that offers read-outs lists them in its ``readouts`` attribute (name -> meaning);
            a run refuses a read-out none of its views' spokes knows, before the model loads.
    """

    bos: bool = True
    readout: str | None = None


_INPUT_SETTINGS: ContextVar[InputSettings] = ContextVar("semhub_input_settings", default=InputSettings())


@contextmanager
def encoding(settings: InputSettings) -> Iterator[None]:
    """Within the block, spokes encode under ``settings`` (``semhub.analyze`` enters it for a run).

    A context variable rather than an ``encode`` argument, so spokes written before a setting
    existed keep their signature, and every caller of ``encode`` (analyses, plugins) sees the run's choice.
    """
    token = _INPUT_SETTINGS.set(settings)
    try:
        yield
    finally:
        _INPUT_SETTINGS.reset(token)


def input_settings() -> InputSettings:
    """The ``InputSettings`` of the run in progress (the defaults outside one)."""
    return _INPUT_SETTINGS.get()


def outside_data_folder(path: Path, base_dir: Path | None) -> bool:
    """True when ``path`` (symlinks followed) leaves ``base_dir`` and that is not allowed."""
    if base_dir is None or _OUTSIDE_PATHS.get():
        return False
    return not path.resolve().is_relative_to(Path(base_dir).resolve())


class FileSpoke:
    """Base for spokes whose values are paths to media files, relative to the data file.

    A subclass sets ``name``, ``modality``, ``input_kind`` and ``file_kind`` ("audio file"),
    implements ``read(path)`` (a ``ValueError`` with a one-line problem for a bad file) and
    ``encode``. Validation then reads every file before the model loads, so a corrupt one is
    reported with ``file:line`` instead of failing mid-run.
    """

    name: str
    modality: str
    file_kind = "file"

    def claims(self, view: str) -> bool:
        return view == self.name or view.startswith(f"{self.name}_")

    @staticmethod
    def path(value: str, base_dir: Path | None) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() or base_dir is None else base_dir / path

    def read(self, path: Path) -> Any:
        raise NotImplementedError

    def validate(self, value: Any, base_dir: Path) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return f"expected a path to a file ({self.file_kind})"
        path = self.path(value, base_dir)
        try:
            outside = outside_data_folder(path, base_dir)
        except RuntimeError:  # pathlib's "Symlink loop from ..."
            return f"{value} is a symbolic link loop"
        if outside:
            return f"{value} is outside the data file's folder (pass --allow-outside-paths to read it)"
        if not path.exists():
            return f"no such {self.file_kind}: {value}"
        if not path.is_file():
            return f"{value} is a folder, a device or a pipe, not a regular {self.file_kind}"
        try:
            self.read(path)
        except ValueError as exc:
            return str(exc)
        return None

    def length_hint(self, value: Any) -> int:
        return 0
