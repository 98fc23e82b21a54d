"""The Python API end to end on a tiny model: length-sorted batching keeps data order."""
from __future__ import annotations

import json

import torch

import semhub
from conftest import tiny_backbone
from semhub.readout.capture import capture
from semhub.readout.collect import view_states
from semhub.default_plugins.text import TextSpoke

ROWS = [
    {"id": "1", "en": "the big red cat sleeps on the mat", "fr": "le chat rouge"},
    {"id": "2", "en": "a dog", "fr": "un chien bleu dort sur la maison"},
    {"id": "3", "en": "the sun and the moon", "fr": "le soleil"},
    {"id": "4", "en": "one two three four five six", "fr": "un deux trois"},
    {"id": "5", "en": "water", "fr": "eau et feu et arbre"},
]


def write_rows(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    return path


def test_view_states_are_in_data_order_despite_length_sorting(tmp_path):
    bb = tiny_backbone("llama")
    ds = semhub.load_aligned(write_rows(tmp_path))
    got = view_states(bb, ds, "en", layers=[0, 2, 3], pooling="mean", batch_size=2)
    one_by_one = torch.cat([capture(bb, [TextSpoke().encode([r["en"]], bb, None)], [0, 2, 3]) for r in ROWS])
    torch.testing.assert_close(got, one_by_one, atol=1e-5, rtol=1e-5)


def test_similarity_api_returns_plottable_result(tmp_path):
    bb = tiny_backbone("gemma3_text")
    res = semhub.analyze("similarity", backbone=bb, data=write_rows(tmp_path), views=["en", "fr"], batch_size=2, n_boot=20,
                         layers="1-3").result
    rec = res.record("en", "fr")
    assert rec["layers"] == [1, 2, 3] and rec["n"] == 5 and len(rec["eq1"]) == 3
    assert all(0.0 <= r <= 1.0 for r in rec["retrieval_at_1"])
    assert json.loads(json.dumps(res.to_json()))[0]["b"] == "fr"
    assert res.plot(tmp_path).stat().st_size > 1000


def test_identical_views_retrieve_perfectly(tmp_path):
    bb = tiny_backbone("qwen3")
    path = tmp_path / "same.jsonl"
    path.write_text("\n".join(json.dumps({"en": r["en"], "text_copy": r["en"]}) for r in ROWS) + "\n")
    res = semhub.analyze("similarity", backbone=bb, data=path, views=["en", "text_copy"], n_boot=0).result
    rec = res.record("en", "text_copy")
    assert rec["retrieval_at_1"] == [1.0] * 4
    assert all(abs(m - 1.0) < 1e-6 for m in rec["matched_cosine"])
