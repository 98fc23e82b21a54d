"""semhub: does this model think in one shared space across languages and modalities?

The public API, for scripts and for plugins (plugins import only from here).
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("semhub")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

from semhub.api import RunContext, dataset, load, make_context, similarity  # noqa: E402
from semhub.backbone import Backbone, ModelSource  # noqa: E402
from semhub.backbone.loading import cache_root, file_sha256  # noqa: E402
from semhub.analyses.lens_view import lens_view  # noqa: E402
from semhub.analyses.logit_lens import mean_ci, upper_peak  # noqa: E402
from semhub.analyses.result import CurvesResult, RecordsResult  # noqa: E402
from semhub.api import parse_layer_spec, parse_layers  # noqa: E402
from semhub.collect import encode_values, view_batches  # noqa: E402
from semhub.analyses.token_sets import score_token_sets, word_token_ids  # noqa: E402
from semhub.capture import capture, pool, run_layers  # noqa: E402
from semhub.lens import Lens  # noqa: E402
from semhub.catalog import spoke_for_view  # noqa: E402
from semhub.data import AlignedDataset, load_aligned  # noqa: E402
from semhub.errors import DataError, SemhubError  # noqa: E402
from semhub.hookspecs import hookimpl  # noqa: E402
from semhub.spokes import Encoded, FileSpoke, Spoke, allow_outside_paths  # noqa: E402
from semhub.steering import SteeringVector, from_contrast, from_prompt_pair, from_unembedding, generate, steer  # noqa: E402
from semhub.steering.run import SteerSpec  # noqa: E402

__all__ = [
    "AlignedDataset", "allow_outside_paths", "Backbone", "DataError", "Encoded", "FileSpoke", "Lens", "ModelSource", "RunContext", "SemhubError", "Spoke",
    "__version__", "cache_root", "capture", "dataset", "file_sha256", "hookimpl", "lens_view", "load", "load_aligned",
    "make_context", "pool", "run_layers", "score_token_sets", "similarity", "spoke_for_view", "word_token_ids",
    "CurvesResult", "RecordsResult", "SteerSpec", "SteeringVector", "from_contrast", "from_prompt_pair", "from_unembedding",
    "encode_values", "generate", "mean_ci", "parse_layer_spec", "parse_layers", "steer", "upper_peak", "view_batches",
]
