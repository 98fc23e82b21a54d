"""The built-in lens kinds, ``logit`` (the logit lens, normed or raw) and ``tuned`` (trained translators,
``semhub.lens.tuned``), registered by ``default_plugins/lenses.py``; ``build_lens``: what --lens picks."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from semhub.contract.lens import LensKind
from semhub.errors import ParameterError


def default_lens_folder(backbone: Any) -> Path:
    """Where ``semhub train-lens`` puts a model's tuned lens unless told otherwise."""
    from semhub.cache import cache_root
    from semhub.lens.tuned import lens_key

    return cache_root() / "lenses" / f"{backbone.name.replace('/', '--')}-{lens_key(backbone)}"


def lens_kind(name: str) -> LensKind:
    """The registered ``semhub.LensKind`` called ``name`` (errors list the known ones)."""
    from semhub.plugins import catalog

    table = catalog.lenses()
    if name not in table:
        raise ParameterError("lens", f"unknown lens {name!r} (known: {', '.join(sorted(table))}){catalog.failure_note()}")
    return table[name]


def check_lens(name: str, *, norm: bool = True, path: str | Path | None = None) -> LensKind:
    """The lens kind called ``name``, once its ``norm`` and ``path`` are checked (before any model loads)."""
    kind = lens_kind(name)
    if not kind.takes_norm and not norm:
        raise ParameterError("lens_norm", f"the {name} lens always applies the final norm")
    kind.check(None if path is None else Path(path))
    return kind


def build_lens(backbone: Any, name: str = "logit", *, norm: bool = True, path: str | Path | None = None):
    """The ``semhub.Lens`` called ``name`` for ``backbone`` (``path``: its parameters, e.g. a tuned-lens folder)."""
    kind = check_lens(name, norm=norm, path=path)
    return kind.build(backbone, norm=norm, path=None if path is None else Path(path))


class LogitLensKind(LensKind):
    name = "logit"
    description = "the unembedding read at every layer (--lens-norm: after the final norm; --no-lens-norm: raw)"

    def check(self, path: Path | None) -> None:
        if path is not None:
            raise ParameterError("lens_path", "the logit lens has no parameters to load (use --lens tuned)")

    def build(self, backbone, *, norm: bool, path: Path | None):
        from semhub.lens.logit import Lens

        self.check(path)
        return Lens(backbone, norm=norm)


class TunedLensKind(LensKind):
    name = "tuned"
    description = ("one trained affine translator per layer before the final norm (tuned-lens layout: "
                   "--lens-path DIR or a published lens id, default the model's `semhub train-lens` folder)")
    needs_path = True
    takes_norm = False

    def check(self, path: Path | None) -> None:
        if path is not None:
            from semhub.lens.tuned import lens_folder, read_config

            read_config(lens_folder(path))  # a published lens is fetched here, before the model loads

    def build(self, backbone, *, norm: bool, path: Path | None):
        from semhub.lens.tuned import load_tuned_lens

        folder = Path(path) if path is not None else default_lens_folder(backbone)
        if path is None and not folder.is_dir():
            raise ParameterError("lens", f"no tuned lens for {backbone.name} yet: train one with `semhub train-lens "
                                         f"--model {backbone.name}` or pass --lens-path DIR")
        return load_tuned_lens(backbone, folder)


class JacobianLensKind(LensKind):
    name = "jacobian"
    description = ("the Jacobian lens: each layer transported to the last by its average Jacobian J_l, then the final "
                   "norm (--lens-path FILE from `semhub fit-lens`, or a published name: neuronpedia/jacobian-lens:MODEL)")
    needs_path = True
    takes_norm = False

    def check(self, path: Path | None) -> None:
        if path is None:
            raise ParameterError("lens_path", "the Jacobian lens needs --lens-path: a file from `semhub fit-lens` or a "
                                              "published name (neuronpedia/jacobian-lens:gemma-3-270m)")
        from semhub.lens.jacobian import lens_file

        lens_file(path)  # a published lens is fetched here, before the model loads

    def build(self, backbone, *, norm: bool, path: Path | None):
        from semhub.lens.jacobian import load_jacobian_lens

        self.check(path)
        return load_jacobian_lens(backbone, path)
