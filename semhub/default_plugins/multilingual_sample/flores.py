"""FLORES+ (openlanguagedata/flores_plus): the same 2,009 sentences in 200+ languages, one hub
configuration per language (``eng_Latn``), joined on the sentence id. ``--data flores --views en,zh,sw``.

The dataset is gated on the hub: accept its terms once and log in (``hf auth login``); offline,
a copy in its layout is read from ``SEMHUB_FLORES`` (a clone of the repository, or
``CONFIG/SPLIT/*.parquet``).
"""
from __future__ import annotations

import os

from semhub import ParameterError, hub_columns, join_tables

REPO = "openlanguagedata/flores_plus"
DEFAULT_SPLIT = "devtest"
DEFAULT_VIEWS = ["en", "zh", "es", "fr", "de"]
# view (the code semhub's text spoke reads) -> FLORES+ configuration (ISO 639-3 + script)
CONFIGS = {
    "en": "eng_Latn", "zh": "cmn_Hans", "es": "spa_Latn", "fr": "fra_Latn", "de": "deu_Latn", "ja": "jpn_Jpan",
    "ru": "rus_Cyrl", "ar": "arb_Arab", "sw": "swh_Latn", "hi": "hin_Deva", "ko": "kor_Hang", "pt": "por_Latn",
    "it": "ita_Latn", "tr": "tur_Latn", "vi": "vie_Latn", "id": "ind_Latn", "nl": "nld_Latn", "pl": "pol_Latn",
    "uk": "ukr_Cyrl", "fi": "fin_Latn", "el": "ell_Grek", "he": "heb_Hebr", "th": "tha_Thai", "bn": "ben_Beng",
    "yo": "yor_Latn", "am": "amh_Ethi", "fa": "pes_Arab", "ur": "urd_Arab", "ta": "tam_Taml", "te": "tel_Telu",
}


def flores(views: list[str] | None, split: str | None, limit: int | None):
    """The recipe: each view's language configuration, column ``text``, joined on ``id``."""
    views = list(views or DEFAULT_VIEWS)
    unknown = [v for v in views if v not in CONFIGS]
    if unknown:
        raise ParameterError("views", f"flores has no view {unknown[0]!r} (views: {', '.join(CONFIGS)})")
    repo = os.environ.get("SEMHUB_FLORES") or REPO
    split = split or DEFAULT_SPLIT
    columns = hub_columns(repo, {v: (CONFIGS[v], "text") for v in views}, split=split)
    return join_tables(columns, key=f"flores:{repo}@{split}", describe=f"flores ({repo}@{split})", limit=limit)
