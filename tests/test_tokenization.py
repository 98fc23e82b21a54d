"""Tokenizer quirk detection on in-process tokenizers of both prefix-space kinds."""
from __future__ import annotations

from conftest import make_tokenizer
from semhub.backbone.tokenization import TokenizerQuirks, detect_quirks, resolve_quirks


def bpe_tokenizer(add_prefix_space: bool):
    """A byte-level BPE like GPT-2's (explicit space) or one that adds the prefix itself."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(["the house is a big house", "a b c house houses"] * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>")


def test_detects_explicit_and_self_prefixing_tokenizers():
    assert detect_quirks(bpe_tokenizer(False)).prefix_space == "explicit"
    assert detect_quirks(bpe_tokenizer(True)).prefix_space == "sentencepiece"
    assert detect_quirks(bpe_tokenizer(False)).adds_bos is False


def test_detects_bos_and_honours_declarations():
    tok = make_tokenizer()
    assert detect_quirks(tok).adds_bos is True
    assert resolve_quirks(tok, "never", "explicit") == TokenizerQuirks(False, "explicit")
    assert resolve_quirks(tok, "auto", "explicit").adds_bos is True
