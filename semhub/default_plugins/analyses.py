"""The built-in analyses, registered through the same hook a plugin uses (a core plugin: always loaded,
whatever SEMHUB_LOAD_PLUGINS says).

The classes here are declarations (names, options, what they need); each ``run`` imports its
computation, so listing analyses (``semhub plugins``, ``--help``) never imports torch.
"""
from __future__ import annotations

from pathlib import Path

from semhub.contract.analysis import Analysis, PaperSetting
from semhub.contract.options import Options, option
from semhub.errors import ParameterError, SemhubError
from semhub.plugins.hookspecs import hookimpl
from semhub.patchscopes.inspection import IDENTITY_PROMPT


class SimilarityAnalysis(Analysis):
    """Eq. 1, matched/mismatched cosine and retrieval@1 for the first view against each other one."""

    name = "similarity"
    description = "per-layer cross-view similarity (Eq. 1) and retrieval@1 with bootstrap CIs"
    plot_name = "similarity.png"
    needs_model = False  # reads only pooled states: runs from an activation store (--from-store)
    paper = PaperSetting(template="paper")  # multilingual/similarity.py appends "This represents" / "这代表了"

    def run(self, ctx):
        from semhub.analyses.similarity import similarity
        from semhub.readout.collect import reader

        stacks = {view: reader(ctx.backbone, view).stack for view in ctx.views} if ctx.backbone else {}
        if len(set(stacks.values())) > 1:
            towers = ", ".join(f"{v}: {s}" for v, s in stacks.items())
            raise SemhubError(f"--views: {ctx.model_name} reads these views on different towers ({towers}), whose "
                              "layers do not correspond; for dual encoders use --analysis joint-alignment")
        states = {view: ctx.states_by_layer(view) for view in ctx.views}
        s = ctx.settings
        return similarity(states, ctx.layers, ctx.views, center=s.center, n_boot=s.n_boot, seed=s.seed,
                          options={"model": ctx.model_name, "pooling": s.pooling})


class LogitLensOptions(Options):
    dictionary: Path | None = option(None, help="A bilingual TSV dictionary (header: the two languages) or a "
                                     "CC-CEDICT file (cedict_ts.u8) instead of the built-in ones.")
    sites: str = option("substring", choices=("substring", "words"),
                        help="Probe sites: dictionary entries found as substrings (word boundaries except in CJK), "
                             "or whole segmented words that are one token (jieba for Chinese; --paper's rule).")
    translation_space: str = option("tokenizer", choices=("tokenizer", "none"),
                                    help="Score a translation's word-start form by the tokenizer's prefix-space "
                                         "rule, or the bare string (the paper's code on models other than Llama 3).")

    def check(self) -> None:
        if self.dictionary is not None:
            from semhub.data.dictionary import load_dictionary

            load_dictionary(self.dictionary)  # a malformed dictionary fails before the model loads


class LogitLensAnalysis(Analysis):
    """Dictionary probes for every non-dominant view that has a dictionary."""

    name = "logit-lens"
    min_views = 1  # a probe of one view
    description = "multilingual logit lens: next word in X vs its dominant-language translation, per layer"
    plot_name = "logit_lens.png"
    input_kinds = ("text",)
    Options = LogitLensOptions
    # multilingual/logit_lens.py: no BOS (add_special_tokens=False), jieba words that are one token
    paper = PaperSetting(bos=False, options={"sites": "words"})

    def work(self, ctx) -> int:
        """Rows to process, for the progress bar: every view but the dominant one."""
        return len(ctx.dataset) * sum(v != ctx.backbone.family.dominant_language for v in ctx.views)

    def run(self, ctx):
        from semhub.analyses.logit_lens import run_logit_lens

        return run_logit_lens(ctx)


DEFAULT_MAX_POSITIONS = 200


class LanguageTrendsOptions(Options):
    trend_corpus: list[str] = option([], help="A LANG=FILE text file per language for the token->language table "
                                     "(repeatable; default: the dataset's text views).")
    max_positions: int = option(DEFAULT_MAX_POSITIONS, min=1, help="Content positions per view (each costs a "
                                "full-vocabulary projection per layer).")

    def check(self) -> None:
        from semhub.data.corpus import read_corpus

        for spec in self.trend_corpus:
            read_corpus(spec)  # a bad corpus fails before the model loads


class LanguageTrendsAnalysis(Analysis):
    name = "language-trends"
    min_views = 1  # a probe of one view
    description = "expected probability mass of each language under the logit lens, per layer"
    plot_name = "language_trends.png"
    input_kinds = ("text",)
    Options = LanguageTrendsOptions

    def work(self, ctx) -> int:
        return len(ctx.views) * min(len(ctx.dataset), ctx.options.max_positions)

    def run(self, ctx):
        from semhub.analyses.language_trends import run_language_trends

        return run_language_trends(ctx)


class LensQualityOptions(Options):
    max_positions: int = option(1000, min=10, help="Positions judged (each costs two full-vocabulary "
                                "projections per layer and lens).")


class LensQualityAnalysis(Analysis):
    """The exact KL to the final distribution and top-1 agreement per layer, for each lens."""

    name = "lens-quality"
    description = "per layer, KL(final || lens) and top-1 agreement of the logit lens and the tuned lens"
    plot_name = "lens_quality.png"
    input_kinds = ("text",)
    min_views = 1
    Options = LensQualityOptions

    def work(self, ctx) -> int:
        return 3

    def run(self, ctx):
        from semhub.analyses.lens_quality import run_lens_quality

        return run_lens_quality(ctx)


def check_dictionaries(paths: list[Path]) -> None:
    """Read every given dictionary once before the model loads: a bad one fails naming its file:line."""
    from semhub.data.dictionary import load_dictionary

    for path in paths:
        load_dictionary(path)


class LatentLanguageOptions(Options):
    task: str = option("translation", choices=("translation", "repetition", "cloze"),
                       help="Few-shot prompts: translate SOURCE words into TARGET, repeat TARGET words, or fill "
                            "TARGET definitions' blank (cloze: --data cloze, or views en, TARGET, TARGET_cloze).")
    source: str = option("fr", help="The source language of translation prompts (a dictionary language).")
    target: str = option("zh", help="The language the answer is written in (a dictionary language).")
    shots: int = option(4, min=0, help="Demonstrations before each query word.")
    max_words: int = option(0, min=0, help="Query words drawn at most (0: every usable word).")
    dictionary: list[Path] = option([], help="Bilingual TSV dictionaries en-X (repeatable; default: the built-in ones).")

    def check(self) -> None:
        check_dictionaries(self.dictionary)
        if self.task == "cloze" and self.target == "en":
            raise ParameterError("target", "cloze answers in English have no English translation to compare")
        if self.task == "translation" and self.source == self.target:
            raise ParameterError("source", f"translation needs two languages, got {self.source} twice")


class LatentLanguageAnalysis(Analysis):
    """Wendler et al.'s latent-language read-out: p(answer in TARGET) vs p(answer in English) per layer."""

    name = "latent-language"
    description = "few-shot translation prompts from the dictionaries: p(target word) vs p(English word) and entropy per layer"
    plot_name = "latent_language.png"
    input_kinds = ("text",)
    min_views = 1
    Options = LatentLanguageOptions

    def work(self, ctx) -> int | None:
        return None

    def run(self, ctx):
        from semhub.analyses.latent_language import run_latent_language

        return run_latent_language(ctx)


class PatchscopeOptions(Options):
    source: str = option("zh", help="The language of the words whose states are decoded (a dictionary language).")
    target_layer: int = option(-1, min=-1, help="Layer of the inspection prompt the state is written at "
                               "(-1: the layer it was read at).")
    target_prompt: str = option(IDENTITY_PROMPT, help="The inspection prompt (default: the few-shot identity prompt).")
    placeholder: str = option("?", help="The string of --target-prompt whose last token receives the state.")
    source_template: str = option("{word}", help="The source prompt around each word; the state is read at its "
                                  "last token.")
    max_words: int = option(64, min=0, help="Words drawn at most (0: every usable word; each costs one "
                            "inspection-prompt forward per layer).")
    examples: int = option(3, min=0, help="Words whose greedy continuation is recorded at every layer.")
    max_new_tokens: int = option(4, min=0, help="Tokens generated per example.")
    dictionary: list[Path] = option([], help="Bilingual TSV dictionaries en-X (repeatable; default: the built-in ones).")

    def check(self) -> None:
        check_dictionaries(self.dictionary)
        if self.source == "en":
            raise ParameterError("source", "decode a language other than English (the reference)")
        if "{word}" not in self.source_template:
            raise ParameterError("source_template", f"{self.source_template!r} has no {{word}}")
        if not self.placeholder or self.placeholder not in self.target_prompt:
            raise ParameterError("placeholder", f"{self.placeholder!r} does not occur in --target-prompt")


class PatchscopeAnalysis(Analysis):
    """Ghandeharioun et al.'s patchscope over dictionary words: the word's state decoded by an inspection prompt."""

    name = "patchscope"
    description = ("each dictionary word's state per layer patched into the identity prompt: p(English word) vs "
                   "p(source word) as the next token")
    plot_name = "patchscope.png"
    input_kinds = ("text",)
    min_views = 1
    Options = PatchscopeOptions

    def work(self, ctx) -> int:
        return len(ctx.layers)

    def run(self, ctx):
        from semhub.patchscopes.analysis import run_patchscope

        return run_patchscope(ctx)


class AlignmentOptions(Options):
    k: int = option(10, min=1, help="Neighbours for mutual k-NN (capped at N - 1).")
    retrieval_k: list[int] = option([1, 5, 10], min=1, help="Cut-offs of retrieval@k (repeatable).")
    permutations: int = option(0, min=0, max=100_000, help="Row shuffles per layer for a null baseline of CKA, "
                               "debiased CKA, mutual k-NN and RSA, with its 95% band (0: none).")
    pool_sizes: list[int] = option([], min=2, help="Candidate-pool sizes of the pool-size curve (repeatable; "
                                   "default 16, 64, 256... and N).")
    pool_draws: int = option(5, min=1, max=10_000, help="Random pools drawn per pool size.")
    rsa_items: int = option(2000, min=3, help="Items RSA ranks the pairwise dissimilarities of (a random "
                            "subset when N is larger: RSA's memory grows as its square).")


class AlignmentAnalysis(Analysis):
    """The field's alignment indices beyond Eq. 1: CKA, debiased CKA, mutual k-NN, CKNNA, RSA, retrieval@k, MRR."""

    name = "alignment"
    description = ("CKA, debiased CKA, mutual k-NN, CKNNA, RSA, retrieval@k and MRR per layer; pool-size curve; "
                   "with --model-b, every layer of one model against every layer of another")
    plot_name = "alignment.png"
    needs_model = False  # pooled states only: also runs from an activation store (--from-store)
    cross_model = True  # with --model-b: every layer of one model against every layer of the other
    Options = AlignmentOptions

    def run(self, ctx):
        if ctx.partner is not None:
            from semhub.analyses.cross_alignment import run_cross_alignment

            return run_cross_alignment(ctx)
        from semhub.analyses.alignment import run_alignment

        return run_alignment(ctx)


@hookimpl
def semhub_register_analyses(register) -> None:
    register(SimilarityAnalysis())
    register(LogitLensAnalysis())
    register(LanguageTrendsAnalysis())
    register(LensQualityAnalysis())
    register(LatentLanguageAnalysis())
    register(PatchscopeAnalysis())
    register(AlignmentAnalysis())
