"""The built-in multilingual sample: 120 sentences aligned across 8 languages.

Written for the project (not taken from any corpus): everyday topics, science, history,
sport, food, technology and feelings; lengths from 4 to 30 words. See README.md beside it.
"""
from __future__ import annotations

from pathlib import Path

from semhub import hookimpl

SAMPLE = Path(__file__).with_name("multilingual.jsonl")
DICTIONARIES = Path(__file__).with_name("dictionaries")


@hookimpl
def semhub_register_datasets(register) -> None:
    register("multilingual", SAMPLE, "120 sentences aligned in en, zh, es, fr, de, ja, ru, ar (written for semhub)")


@hookimpl
def semhub_register_dictionaries(register) -> None:
    # en-zh, en-es, en-fr, en-de: ~170 content words of the sample, written for semhub
    for path in sorted(DICTIONARIES.glob("*.tsv")):
        register(path)
