"""FLEURS (google/fleurs): FLORES sentences read aloud in 102 languages, one hub configuration per
language (``es_419``), joined on the FLORES sentence id (the first recording of each).
``--data fleurs --views audio_en,audio_es`` (views ``<lang>`` give the transcript as text).

Read from the hub's parquet export (revision ``refs/convert/parquet``: the repository itself is a
loading script, which ``datasets`` no longer runs); offline, a copy in that layout
(``CONFIG/SPLIT/*.parquet``) is read from ``SEMHUB_FLEURS``. Audio cells are read undecoded and
written once as files (no audio decoder library needed).
"""
from __future__ import annotations

import os

from semhub import ParameterError, hub_columns, join_tables

REPO = "google/fleurs"
REVISION = "refs/convert/parquet"  # read as hf://datasets/google/fleurs@refs%2Fconvert%2Fparquet/CONFIG/SPLIT/*.parquet
DEFAULT_SPLIT = "test"
DEFAULT_VIEWS = ["audio_en", "audio_es", "audio_fr", "audio_de"]
CONFIGS = {
    "en": "en_us", "es": "es_419", "fr": "fr_fr", "de": "de_de", "zh": "cmn_hans_cn", "ja": "ja_jp", "ru": "ru_ru",
    "ar": "ar_eg", "sw": "sw_ke", "hi": "hi_in", "ko": "ko_kr", "pt": "pt_br", "it": "it_it", "tr": "tr_tr",
    "vi": "vi_vn", "id": "id_id", "nl": "nl_nl", "pl": "pl_pl", "uk": "uk_ua", "fi": "fi_fi", "el": "el_gr",
    "he": "he_il", "th": "th_th", "bn": "bn_in", "yo": "yo_ng", "am": "am_et", "fa": "fa_ir", "ur": "ur_pk",
    "ta": "ta_in", "te": "te_in",
}


def pick(view: str) -> tuple[str, str]:
    """``audio_es`` -> (es_419, audio); ``es`` -> (es_419, raw_transcription)."""
    lang = view.removeprefix("audio_")
    if lang not in CONFIGS or view == "audio":
        raise ParameterError("views", f"fleurs has no view {view!r} (audio_<lang> or <lang>, lang one of "
                                      f"{', '.join(CONFIGS)})")
    return CONFIGS[lang], "audio" if view.startswith("audio_") else "raw_transcription"


def fleurs(views: list[str] | None, split: str | None, limit: int | None):
    views = list(views or DEFAULT_VIEWS)
    repo = os.environ.get("SEMHUB_FLEURS") or REPO
    split = split or DEFAULT_SPLIT
    columns = hub_columns(repo, {v: pick(v) for v in views}, split=split,
                          revision=None if os.path.isdir(repo) else REVISION)
    return join_tables(columns, key=f"fleurs:{repo}@{split}", describe=f"fleurs ({repo}@{split})", limit=limit)
