"""Property tests (hypothesis): random bytes and random JSON structures fed to the data reader and
the activation-store reader either load or fail with semhub's own one-line error, never another
exception (the CLI turns those into one ``Error:`` line and exit status 2)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (the test extra)")
from hypothesis import HealthCheck, example, given, settings, strategies as st  # noqa: E402

from semhub.data.aligned import AlignedDataset, load_aligned  # noqa: E402
from semhub.errors import SemhubError  # noqa: E402
from semhub.runs.store import ActivationStore  # noqa: E402

SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
rows = st.dictionaries(st.sampled_from(["id", "en", "zh", "es", "a b", "", "x" * 70]) | st.text(max_size=6),
                       json_values, max_size=5)


def loads_or_refuses(write) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("data.jsonl", "data.tsv", "data.txt"):
            path = Path(tmp) / name
            write(path)
            try:
                ds = load_aligned(path)
            except SemhubError as exc:
                assert str(exc).strip() and "\n" not in str(exc).strip()
                continue
            assert isinstance(ds, AlignedDataset)
            assert all(len(col) == len(ds) for col in ds.columns.values())


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_load_or_fail_with_one_line(data):
    loads_or_refuses(lambda p: p.write_bytes(data))


@SETTINGS
@given(st.lists(rows | json_values, min_size=1, max_size=5))
def test_random_json_rows_load_or_fail_with_one_line(values):
    text = "\n".join(json.dumps(v, ensure_ascii=False) for v in values) + "\n"
    loads_or_refuses(lambda p: p.write_text(text, encoding="utf-8", errors="surrogatepass"))


def store_loads_or_refuses(manifest: bytes, shard: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        store.mkdir()
        (store / "store.json").write_bytes(manifest)
        if shard is not None:
            (store / "en").mkdir()
            (store / "en" / "shard-00000.safetensors").write_bytes(shard)
        try:
            spec = ActivationStore(store).manifest()
            ActivationStore(store).states("en")
            from semhub.runs.context import context_from_store

            context_from_store(store)
        except SemhubError as exc:
            assert str(exc).strip() and "\n" not in str(exc).strip()
        else:
            assert isinstance(spec, dict)


VALID = {"version": 1, "model": {"name": "m"}, "data": "d.jsonl", "data_sha256": "0" * 64, "rows": 2, "views": ["en"],
         "layers": [0, 1], "pooling": "mean", "final_norm": False, "bos": None, "template": None, "batch_size": 2,
         "store_dtype": "float32", "shard_rows": 2, "d_model": 3}


@SETTINGS
@given(st.binary(max_size=300), st.none() | st.binary(max_size=300))
def test_random_store_files_fail_with_one_line(manifest, shard):
    store_loads_or_refuses(manifest, shard)


@SETTINGS
@given(st.dictionaries(st.sampled_from(sorted(VALID)), json_values, max_size=6), st.binary(max_size=200))
def test_store_manifests_with_random_fields_fail_with_one_line(changes, shard):
    store_loads_or_refuses(json.dumps({**VALID, **changes}).encode(), shard)


def test_a_valid_store_is_read_and_a_wrong_shard_named(tmp_path):
    import torch
    from safetensors.torch import save_file

    store = tmp_path / "store"
    (store / "en").mkdir(parents=True)
    (store / "store.json").write_text(json.dumps(VALID))
    shard = store / "en" / "shard-00000.safetensors"
    save_file({"states": torch.ones(2, 2, 3)}, str(shard))
    assert ActivationStore(store).states("en")[:, 1].shape == (2, 3)
    save_file({"states": torch.ones(2, 2, 4)}, str(shard))
    with pytest.raises(SemhubError, match="shard-00000.safetensors: holds F32 \\[2, 2, 4\\], expected \\[2, 2, 3\\]"):
        ActivationStore(store).states("en")
    shard.write_bytes(shard.read_bytes()[:40])
    with pytest.raises(SemhubError, match="shard-00000.safetensors: not a readable shard"):
        ActivationStore(store).states("en")


CARD = json.loads((Path(__file__).parent / "bad_inputs" / "files" / "card-ok.json").read_text())
card_paths = st.sampled_from([(), ("model",), ("n_layers",), ("spokes",), ("spokes", 0), ("spokes", 0, "curves"),
                              ("spokes", 0, "curves", "retrieval@1"), ("spokes", 0, "curves", "retrieval@1", "values"),
                              ("spokes", 0, "curves", "retrieval@1", "ci95"), ("spokes", 0, "curves", "retrieval@1", "layers"),
                              ("spokes", 0, "n"), ("lenses",), ("steering",), ("calls",), ("quick",)])


@SETTINGS
@given(st.lists(st.tuples(card_paths, st.text(max_size=8), json_values), max_size=4))
def test_cards_with_random_fields_are_read_or_refused_in_one_line(changes):
    """A card whose fields are replaced or added at random is read or refused with one line naming the
    card and the field (``Card.read`` checks the schema), never another exception."""
    from semhub.cards.card import Card

    card = json.loads(json.dumps(CARD))
    for path, key, value in changes:
        node = card
        try:
            for step in path:
                node = node[step]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(node, dict):
            node[key if key else (path[-1] if path else "model")] = value
        elif isinstance(node, list) and node:
            node[0] = value
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "card.json"
        target.write_text(json.dumps(card))
        try:
            read = Card.read(target)
        except SemhubError as exc:
            text = str(exc).strip()
            assert text.startswith(str(target)) and "\n" not in text
            return
        read.to_json()  # a card that reads also writes
        for item in read.spokes:
            for curve in item.curves.values():
                curve.headline()


@SETTINGS
@given(st.lists(st.dictionaries(st.sampled_from(["id", "en", "es"]), json_values, min_size=1, max_size=3),
                min_size=1, max_size=5))
@example([{"en": {"": None, "\x00": None}}])  # found by Hypothesis: a struct pyarrow cannot turn into a dict
def test_hub_data_rows_load_or_fail_with_one_line(rows_):
    """Random rows in a local hub-data folder (saved with ``datasets``): the table loads as aligned rows,
    or fails with one line naming the data, never another exception."""
    import datasets

    import semhub

    with tempfile.TemporaryDirectory() as tmp:
        try:
            table = datasets.Dataset.from_list(rows_)
        except Exception:  # noqa: BLE001 - rows datasets itself cannot type: not a dataset anyone could have
            return
        table.save_to_disk(str(Path(tmp) / "saved"))
        try:
            ds = semhub.dataset(f"hf:{Path(tmp) / 'saved'}")
        except SemhubError as exc:
            assert str(exc).strip() and "\n" not in str(exc).strip()
            return
        assert all(len(col) == len(ds) for col in ds.columns.values())
