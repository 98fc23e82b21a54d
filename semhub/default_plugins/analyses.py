"""The built-in analyses, registered through the same hook a plugin uses (a core plugin: always loaded,
whatever SEMHUB_LOAD_PLUGINS says).

Each analysis lives in one module, its declaration (name, options, what it needs) beside its
computation: ``semhub/analyses/<name>.py`` (and ``semhub/patchscopes/analysis.py``, ``concept_patching.py``). Those modules
import torch and numpy inside their functions, so listing analyses (``semhub plugins``, ``--help``)
never imports them.
"""
from __future__ import annotations

from semhub.analyses.alignment import AlignmentAnalysis
from semhub.analyses.language_trends import LanguageTrendsAnalysis
from semhub.analyses.latent_language import LatentLanguageAnalysis
from semhub.analyses.lens_quality import LensQualityAnalysis
from semhub.analyses.logit_lens import LogitLensAnalysis
from semhub.analyses.similarity import SimilarityAnalysis
from semhub.patchscopes.analysis import PatchscopeAnalysis
from semhub.patchscopes.concept_patching import ConceptPatchingAnalysis
from semhub.plugins.hookspecs import hookimpl

BUILT_IN = (SimilarityAnalysis, LogitLensAnalysis, LanguageTrendsAnalysis, LensQualityAnalysis, LatentLanguageAnalysis,
            PatchscopeAnalysis, AlignmentAnalysis, ConceptPatchingAnalysis)


@hookimpl
def semhub_register_analyses(register) -> None:
    for analysis in BUILT_IN:
        register(analysis())
