"""Property tests (hypothesis): random bytes and random JSON structures fed to the data reader and
the activation-store reader either load or fail with semhub's own one-line error, never another
exception (the CLI turns those into one ``Error:`` line and exit status 2)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (the test extra)")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

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
