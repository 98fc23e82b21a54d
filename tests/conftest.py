"""Shared fixtures: tiny random models built from each registry entry's ``[tiny]`` config,
with an in-process word-level tokenizer (no downloads), and a CLI runner."""
from __future__ import annotations

import json
import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = (
    "the a cat dog sat on mat red blue green house tree river sun moon big small runs sleeps eats "
    "water fire one two three four five and or not is was el la gato perro rojo azul casa árbol "
    "agua uno dos tres le chat chien rouge bleu maison eau un deux trois der die das katze hund Yes No"
).split()


# Placeholder and wrapper tokens of multimodal processors: they take the top ids of the 99-token
# vocabulary, so ``<image>`` is 97 and ``<|AUDIO|>`` 98 (the image/audio token ids of the tiny configs).
MEDIA_TOKENS = [
    "<racm3:break>", "<eoss>", "<reserved08706>",  # Chameleon: begin/end of image, chat separator
    "<start_of_image>", "<end_of_image>", "<image_soft_token>",  # Gemma 3
    "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>",  # Qwen2-VL
    "<|audio_bos|>", "<|audio_eos|>", "<image>", "<|AUDIO|>",
]


SPEECH_TOKENS = ["<|en|>", "<|es|>", "<|fr|>", "<|de|>", "<|transcribe|>", "<|translate|>", "<|notimestamps|>"]


def make_tokenizer(media: bool = False, roles: dict[str, str] | None = None, speech: bool = False):
    """A word-level fast tokenizer over ``WORDS`` that prepends <bos>, like Gemma's.

    ``speech`` adds Whisper's language and task tokens right after the words (ids 65-71);
    ``media`` adds the processors' placeholder tokens at the top ids (``<image>`` = 97, ``<|AUDIO|>`` = 98);
    ``roles`` names some of them as the tokenizer attributes a processor reads (Gemma 3's ``boi_token``...).
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<bos>", "<eos>", "<unk>"]
    vocab = {tok: i for i, tok in enumerate(specials + WORDS)}
    if speech:
        vocab.update({tok: len(vocab) + i for i, tok in enumerate(SPEECH_TOKENS)})
    if media:
        vocab.update({tok: 99 - len(MEDIA_TOKENS) + i for i, tok in enumerate(MEDIA_TOKENS)})
    assert len(vocab) <= 99
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", 1)]
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>", unk_token="<unk>",
        **({"extra_special_tokens": roles} if roles else {}),
    )
    if media or speech:
        core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split("|>", "merged_with_previous"),
                                                      pre_tokenizers.WhitespaceSplit()])
        tok.add_special_tokens({"additional_special_tokens": (MEDIA_TOKENS if media else [])
                                + (SPEECH_TOKENS if speech else [])})
        assert not media or tok.convert_tokens_to_ids("<|AUDIO|>") == 98
        assert not speech or tok.convert_tokens_to_ids("<|notimestamps|>") == 71
    return tok


def text_families() -> list[str]:
    """Registry families that are causal text LMs (multimodal ones have their own tests)."""
    from semhub.backbone.registry import families

    return sorted(name for name, fam in families().items() if fam.loader == "AutoModelForCausalLM")


def tiny_model(family_name: str, seed: int = 0):
    """(random model of the family's architecture from its registry ``[tiny]`` config, family)."""
    from semhub.backbone.registry import families

    from semhub.backbone.loading import resolve_class

    fam = families()[family_name]
    config = resolve_class(fam.tiny["config_class"])(**fam.tiny["config"])
    torch.manual_seed(seed)
    cls = resolve_class(fam.loader)
    model = (cls.from_config(config) if fam.loader.startswith("Auto") else cls(config)).eval()
    return model, fam


def save_tiny_lm(folder, family_name: str = "llama"):
    """A saved tiny random causal LM with the in-process tokenizer, for ``--model FOLDER``."""
    model, _ = tiny_model(family_name)
    model.save_pretrained(folder)
    make_tokenizer().save_pretrained(folder)
    return folder


def tiny_backbone(family_name: str, seed: int = 0, processor=None):
    """A tiny random backbone of a registry family, with the in-process tokenizer."""
    from semhub.backbone.adapter import Backbone

    model, fam = tiny_model(family_name, seed)
    tokenizer = getattr(processor, "tokenizer", None) or make_tokenizer(speech=family_name == "whisper")
    return Backbone(model, tokenizer, fam, f"tiny-{family_name}", processor=processor)


@pytest.fixture
def cli_run(capsys):
    """Run ``semhub`` in-process; returns (exit_code, stdout, stderr)."""
    from semhub.cli import main

    def run(*args: str):
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code or 0
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def fresh_plugins(monkeypatch):
    """Reload plugins after the test changes the environment, and restore after."""
    from types import SimpleNamespace

    from semhub.plugins import catalog, manager

    plugins = SimpleNamespace(load_plugins=manager.load_plugins, pm=manager.pm, failures=manager.failures,
                              reset=catalog.reset)
    catalog.reset()
    yield plugins
    monkeypatch.undo()
    catalog.reset()


@pytest.fixture(scope="session")
def gemma():
    """The default model (Gemma 3 270M), loaded once for the whole run: the real-model tests that take a
    loaded backbone share it (each load costs 5-9 s)."""
    import semhub

    return semhub.load()


@pytest.fixture(scope="session")
def sentences():
    return [
        "the cat sat on the mat",
        "a dog runs",
        "el gato rojo",
        "le chat bleu sleeps on the big red mat and the dog eats",
        "one two three four five",
        "der hund",
    ]


def shuffled_pairs(folder, a: str = "en", b: str = "zh", data: str = "multilingual", seed: int = 0):
    """A copy of two views of a built-in dataset with ``b``'s rows shuffled: every pair broken."""
    import json
    import random

    import semhub

    ds = semhub.dataset(data)
    other = list(ds.columns[b])
    random.Random(seed).shuffle(other)
    path = folder / "shuffled.jsonl"
    path.write_text("".join(json.dumps({a: x, b: y}, ensure_ascii=False) + "\n" for x, y in zip(ds.columns[a], other)))
    return path


@pytest.fixture
def tiny(tmp_path):
    """(a saved tiny random model, six aligned en/fr rows): a whole run in seconds."""
    model = save_tiny_lm(tmp_path / "tiny")
    data = tmp_path / "rows.jsonl"
    words = ["cat", "dog", "house", "tree", "river", "book"]
    data.write_text("".join(json.dumps({"en": f"the {w}", "fr": f"le {w}"}) + "\n" for w in words))
    return model, data
