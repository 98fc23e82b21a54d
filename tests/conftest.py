"""Shared fixtures: tiny random models built from each registry entry's ``[tiny]`` config,
with an in-process word-level tokenizer (no downloads), and a CLI runner."""
from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = (
    "the a cat dog sat on mat red blue green house tree river sun moon big small runs sleeps eats "
    "water fire one two three four five and or not is was el la gato perro rojo azul casa árbol "
    "agua uno dos tres le chat chien rouge bleu maison eau un deux trois der die das katze hund"
).split()


def make_tokenizer():
    """A word-level fast tokenizer over ``WORDS`` that prepends <bos>, like Gemma's."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<bos>", "<eos>", "<unk>"]
    vocab = {tok: i for i, tok in enumerate(specials + WORDS)}
    assert len(vocab) <= 99
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>", unk_token="<unk>"
    )


def tiny_backbone(family_name: str, seed: int = 0):
    """A random model of the family's architecture, from its registry ``[tiny]`` config."""
    import transformers

    from semhub.backbone import Backbone
    from semhub.registry import families

    fam = families()[family_name]
    config = getattr(transformers, fam.tiny["config_class"])(**fam.tiny["config"])
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    return Backbone(model, make_tokenizer(), fam, f"tiny-{family_name}")


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
    from semhub import plugins

    plugins.reset()
    yield plugins
    monkeypatch.undo()
    plugins.reset()


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
