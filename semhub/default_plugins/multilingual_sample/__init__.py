"""The built-in multilingual sample: 120 sentences aligned across 8 languages.

Written for the project (not taken from any corpus): everyday topics, science, history,
sport, food, technology and feelings; lengths from 4 to 30 words. See README.md beside it.
"""
from __future__ import annotations

from pathlib import Path

from semhub import hookimpl

SAMPLE = Path(__file__).with_name("multilingual.jsonl")
DICTIONARIES = Path(__file__).with_name("dictionaries")
CLOZE = Path(__file__).with_name("cloze.jsonl")


@hookimpl
def semhub_register_datasets(register) -> None:
    register("multilingual", SAMPLE, "120 sentences aligned in en, zh, es, fr, de, ja, ru, ar (written for semhub)")
    register("cloze", CLOZE, "50 words with one-sentence definitions in zh and fr, a blank for the word "
             "(views en, zh, zh_cloze, fr, fr_cloze; written for semhub): latent-language --task cloze")
    from semhub.default_plugins.multilingual_sample.flores import flores

    register("flores", description="FLORES+ from the hub: 2,009 sentences per language, views en, zh, sw... "
             "(--data flores[@dev|@devtest]; gated: accept its terms, or SEMHUB_FLORES=a local copy)", loader=flores)


@hookimpl
def semhub_register_dictionaries(register) -> None:
    # en-zh, en-es, en-fr, en-de: ~170 content words of the sample, written for semhub
    for path in sorted(DICTIONARIES.glob("*.tsv")):
        register(path)


SENTIMENT = Path(__file__).with_name("sentiment.jsonl")
VECTOR_ROWS = slice(0, 40)  # sentences that build language vectors
PROMPT_ROWS = slice(80, 120)  # held-out sentences whose first words become prompts
DEPTH = 1 / 3  # hs[6] of Gemma 3 270M's 18: where 11.1 of the reference measured language steering


def steering_layer(backbone) -> int:
    """A third of the way in (layer 6 on Gemma 3 270M, 10 on SmolLM2-135M): the presets run on any depth."""
    return max(1, round(backbone.n_layers * DEPTH))


def _opening(text: str, words: int = 4) -> str:
    """The first few words (or characters, for scripts without spaces) of a sentence: a prompt."""
    parts = text.split()
    return " ".join(parts[:words]) if len(parts) > 1 else text[: words + 1]


def _language_preset(source: str, target: str, sign: float):
    def build(backbone):
        import semhub
        from semhub import SteerSpec, from_contrast

        ds = semhub.dataset("multilingual")
        layer = steering_layer(backbone)
        vector = from_contrast(backbone, ds.columns["es"][VECTOR_ROWS], ds.columns["en"][VECTOR_ROWS], layer=layer,
                               positive_view="es", negative_view="en")
        vector.provenance["data"] = "multilingual sample rows 1-40: es minus en"
        prompts = [_opening(s) for s in ds.columns[source][PROMPT_ROWS]]
        spec = SteerSpec(prompts, [layer], [sign * c for c in (0.5, 1.0, 2.0)], ["language", "perplexity", "relevance"],
                         target_language=target, description=f"{source} prompts, (es - en) x coeff, target {target}")
        return vector, spec

    return build


def _sentiment_preset(vector_lang: str, prompt_lang: str):
    def build(backbone):
        import semhub
        from semhub import SteerSpec, from_contrast

        data = semhub.load_aligned(SENTIMENT)
        pos = [t for i, t in zip(data.ids, data.columns[vector_lang]) if i.startswith("pos")]
        neg = [t for i, t in zip(data.ids, data.columns[vector_lang]) if i.startswith("neg")]
        layer = steering_layer(backbone)
        vector = from_contrast(backbone, pos, neg, layer=layer, positive_view=vector_lang, negative_view=vector_lang)
        vector.provenance["data"] = f"sentiment.jsonl: {vector_lang} positive minus negative sentences"
        prompts = [_opening(s) for s in semhub.dataset("multilingual").columns[prompt_lang][PROMPT_ROWS]]
        spec = SteerSpec(prompts, [layer], [-4.0, -2.0, 2.0, 4.0], ["sentiment", "language", "perplexity", "relevance"],
                         target_language=prompt_lang,
                         description=f"{prompt_lang} prompts, ({vector_lang} positive - negative) x coeff")
        return vector, spec

    return build


@hookimpl
def semhub_register_steering_presets(register) -> None:
    register("language", _language_preset("en", "es", 1.0), "English prompts steered to Spanish with (es - en)")
    register("language-back", _language_preset("es", "en", -1.0), "Spanish prompts steered back to English with -(es - en)")
    for lang in ("es", "zh"):
        register(f"sentiment-{lang}", _sentiment_preset("en", lang),
                 f"an English sentiment vector applied to {lang} prompts")
        register(f"sentiment-{lang}-own", _sentiment_preset(lang, lang),
                 f"a {lang} sentiment vector applied to {lang} prompts (the own-language control)")


@hookimpl
def semhub_register_experiments(register) -> None:
    register("multilingual-similarity", "analyze", {'data': 'multilingual'},
             "Eq. 1 and retrieval@1 across layers, en vs zh es fr de ja ru ar (paper 1.1)")
    register("multilingual-logit-lens", "analyze", {'data': 'multilingual', 'analysis': 'logit-lens', 'views': ['en', 'zh', 'es', 'fr', 'de']},
             "next word in X vs its English translation under the lens (paper 1.2)")
    register("latent-language", "analyze", {'analysis': 'latent-language', 'views': ['en']},
             "beyond the paper: Wendler et al.'s fr->zh translation prompts, p(zh word) vs p(English word) per layer "
             "(add --lens tuned after `semhub train-lens`)")
    register("latent-language-cloze", "analyze", {'analysis': 'latent-language', 'task': 'cloze', 'data': 'cloze',
                                                  'views': ['en'], 'target': 'zh'},
             "beyond the paper: Wendler et al.'s cloze prompts, zh definitions with a blank, p(zh word) vs p(English word)")
    register("patchscope", "analyze", {'analysis': 'patchscope', 'views': ['en'], 'source': 'zh'},
             "beyond the paper: each zh word's state per layer decoded by the identity prompt, p(English) vs p(zh)")
    register("concept-patching", "analyze", {'analysis': 'concept-patching', 'views': ['en']},
             "beyond the paper: Dumas et al.'s concept patching, a de word's latent written over an es word's in "
             "translation prompts into fr and zh: p(C in zh) vs p(D in zh) per layer, mean-over-languages and control")
    register("concept-patching-last", "analyze", {'analysis': 'concept-patching', 'views': ['en'], 'site': 'last'},
             "beyond the paper: the same at the last token, one layer at a time (Dumas et al. Fig. 2)")
    register("language-trends", "analyze", {'data': 'multilingual', 'analysis': 'language-trends', 'views': ['zh', 'en', 'es']}, "language mass of the lens per layer (paper 1.3)")
    register("language-steering", "steer", {'preset': 'language'}, "English prompts steered to Spanish")
    register("align-two-lms", "analyze", {"analysis": "alignment", "data": "multilingual", "views": ["en", "zh"],
                                          "model": "smollm2-135m", "model_b": "gemma3-270m", "permutations": 20},
             "beyond the paper: SmolLM2-135M (en) x Gemma 3 270M (zh), the same sentences, all layer pairs")
    register("sentiment-steering", "steer", {'preset': 'sentiment-es'},
             "an English sentiment vector on Spanish prompts (paper 1.4)")
