"""Which of a run's views are audio: the one check every audio analysis makes."""
from __future__ import annotations

import semhub
from semhub import SemhubError


def audio_views(ctx) -> list[str]:
    views = [v for v in ctx.views if semhub.spoke_for_view(v).modality == "audio"]
    if not views:
        raise SemhubError("--views: this analysis needs an audio view (e.g. audio_en)")
    return views
