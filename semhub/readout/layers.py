"""Layer selections: ``"6-13"``, ``"1,5,9"`` or a list, checked against the model's depth."""
from __future__ import annotations

from semhub.errors import ParameterError
from semhub.backbone.convention import check_layers

MAX_SPEC_LAYERS = 100_000  # no model has more; a bigger range is a typo, refused before it is built


def parse_layer_spec(spec: str) -> list[int]:
    """``"6-13"``, ``"1,5,9"`` or a mix -> sorted layer list (syntax only; range checked later)."""
    layers: set[int] = set()
    try:
        for part in spec.split(","):
            lo, dash, hi = part.strip().partition("-")
            a, b = int(lo), int(hi) if dash else int(lo)  # "2-" is an unfinished range, not layer 2
            if b - a > MAX_SPEC_LAYERS or max(a, b) > MAX_SPEC_LAYERS:
                raise ParameterError("layers", f"{spec!r} reaches beyond any model's depth")
            layers.update(range(a, b + 1))
    except ValueError:
        raise ParameterError("layers", f"cannot parse {spec!r} (expected e.g. 0-18 or 1,6,12)") from None
    if not layers:
        raise ParameterError("layers", f"{spec!r} selects no layer")
    return sorted(layers)


def parse_layers(spec: str | list[int] | None, n_layers: int, drop_embeddings: bool = False) -> list[int]:
    """``None`` -> all (0..L, or 1..L without embeddings); otherwise the selection, in range."""
    if spec is None:
        return list(range(1 if drop_embeddings else 0, n_layers + 1))
    return check_layers(parse_layer_spec(spec) if isinstance(spec, str) else list(spec), n_layers)
