"""Alignment across two models (``model_b`` / ``--model-b``): every heatmap cell equals the metric
functions on the two models' captured states, a model against itself is aligned on the diagonal,
the CLI, Python and a store (and ``--from-store``) agree, memory blocks do not change a number, and
bad combinations are one line each. On real weights: SmolLM2 x Gemma 3 on en/zh sentences beats
its shuffled-rows null, shuffled pairs do not."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import semhub
from semhub.analyses import alignment_metrics as am

SENTENCES = ["the cat sleeps", "a dog runs home", "the big red house", "one two three", "the river is cold",
             "a book on the table", "we eat bread", "the road is long", "my old lamp", "a green tree grows",
             "she reads a letter", "the sun is warm"]


@pytest.fixture
def models(tmp_path) -> tuple[str, str]:
    import torch
    from conftest import make_tokenizer, save_tiny_lm
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(1)  # model B: another family, depth and width than model A
    GPT2LMHeadModel(GPT2Config(vocab_size=99, n_embd=24, n_layer=5, n_head=4, n_positions=64, bos_token_id=1,
                               eos_token_id=2)).save_pretrained(tmp_path / "gpt2")
    make_tokenizer().save_pretrained(tmp_path / "gpt2")
    return str(save_tiny_lm(tmp_path / "llama", "llama")), str(tmp_path / "gpt2")


@pytest.fixture
def rows(tmp_path) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"en": s, "fr": " ".join(reversed(s.split()))}) + "\n" for s in SENTENCES))
    return path


def captured(model: str, rows: Path, view: str):
    bb = semhub.load(model)
    ds = semhub.dataset(str(rows))
    return semhub.capture(bb, semhub.encode_values(bb, list(ds.columns[view]), view))


def test_every_cell_equals_the_metric_functions_on_both_models_states(models, rows):
    a_model, b_model = models
    run = semhub.analyze("alignment", model=a_model, model_b=b_model, data=str(rows), views=["en", "fr"], k=3,
                         permutations=20, pool_sizes=[4, 8])
    pairs, pool = run.result.records
    x_all, y_all = captured(a_model, rows, "en"), captured(b_model, rows, "fr")
    assert pairs["layers_a"] == list(range(x_all.shape[1])) and pairs["layers_b"] == list(range(y_all.shape[1]))
    assert (x_all.shape[1:], y_all.shape[1:]) == ((4, 32), (6, 24))  # two models of other depths and widths
    for i in range(x_all.shape[1]):
        for j in range(y_all.shape[1]):
            x, y = x_all[:, i], y_all[:, j]
            assert pairs["heatmaps"]["linear CKA"][i][j] == pytest.approx(am.linear_cka(x, y), rel=1e-5)
            assert pairs["heatmaps"]["debiased CKA"][i][j] == pytest.approx(am.debiased_cka(x, y), rel=1e-4, abs=1e-6)
            assert pairs["heatmaps"]["mutual k-NN (k=3)"][i][j] == pytest.approx(am.mutual_knn(x, y, 3))
    for name, grid in pairs["heatmaps"].items():
        grid = np.array(grid)
        i, j = np.unravel_index(np.nanargmax(grid), grid.shape)
        assert pairs["best"][name] == {"layer_a": int(i), "layer_b": int(j), "value": pytest.approx(grid[i, j])}
        top = pairs["calibration"]["metrics"][name]["max"]
        assert top["observed"] == pytest.approx(grid[i, j]) and divmod(top["index"], grid.shape[1]) == (i, j)
        assert 0 <= top["score"] <= 1 and 0 < top["p"] <= 1
    assert pool["pool"] and pool["x"] == [4, 8] and set(pool["series"]) == {"mutual k-NN", "mutual k-NN (chance)"}  # no retrieval
    assert (pool["layer_a"], pool["layer_b"]) == tuple(pairs["best"]["mutual k-NN (k=3)"][k] for k in ("layer_a", "layer_b"))
    manifest = run.manifest
    assert manifest["model"]["model"] == a_model and manifest["model_b"]["model"] == b_model
    assert manifest["views_b"] == ["fr"]


def test_a_model_against_itself_is_aligned_on_the_diagonal(models, rows):
    a_model, _ = models
    pairs = semhub.analyze("alignment", model=a_model, model_b=a_model, data=str(rows), views=["en", "en"],
                           k=3).result.records[0]
    for name in ("linear CKA", "mutual k-NN (k=3)"):
        grid = np.array(pairs["heatmaps"][name])
        np.testing.assert_allclose(np.diag(grid)[1:], 1.0, rtol=1e-6)  # layer 0 (embeddings) may tie or be constant
        assert pairs["best"][name]["value"] == pytest.approx(1.0)


def test_cli_python_store_and_from_store_agree(models, rows, tmp_path, cli_run, monkeypatch):
    a_model, b_model = models
    args = ["--analysis", "alignment", "--model", a_model, "--model-b", b_model, "--data", str(rows),
            "--views", "en,fr", "--k", "3", "--layers", "1-2", "--layers-b", "0,2", "--pool-sizes", "6"]
    code, out, err = cli_run("analyze", *args, "--store", str(tmp_path / "store"), "--out", str(tmp_path / "cli"))
    assert code == 0, err
    assert "best pair" in out
    assert (tmp_path / "store" / "model-b" / "store.json").exists()
    python = semhub.analyze("alignment", model=a_model, model_b=b_model, data=str(rows), views=["en", "fr"], k=3,
                            layers="1-2", layers_b=[0, 2], pool_sizes=[6])
    cli = json.loads((tmp_path / "cli" / "results.json").read_text())["alignment"]
    assert cli == json.loads(python.results_text)["alignment"]
    assert cli[0]["layers_a"] == [1, 2] and cli[0]["layers_b"] == [0, 2]
    assert (tmp_path / "cli" / "alignment.png").stat().st_size > 10_000
    code, _, err = cli_run("analyze", "--from-store", str(tmp_path / "store"), "--analysis", "alignment", "--k", "3",
                           "--pool-sizes", "6", "--out", str(tmp_path / "stored"))
    assert code == 0, err
    stored = json.loads((tmp_path / "stored" / "results.json").read_text())["alignment"]
    assert [r.get("heatmaps") for r in stored] == [r.get("heatmaps") for r in cli]
    # memory blocks of one layer of model B at a time give the same numbers
    monkeypatch.setattr("semhub.analyses.alignment.BLOCK_BYTES", 1)
    blocked = semhub.analyze("alignment", from_store=str(tmp_path / "store"), k=3, pool_sizes=[6])
    assert [r.get("heatmaps") for r in json.loads(blocked.results_text)["alignment"]] == [r.get("heatmaps") for r in cli]


@pytest.mark.parametrize("extra, flag, words", [
    (["--analysis", "similarity", "--model-b", "B"], "--model-b", "reads one model"),
    (["--analysis", "alignment", "--layers-b", "1"], "--layers-b", "needs model_b"),
    (["--analysis", "alignment", "--model-b", "B", "--views", "en"], "--views", "at least two views"),
    (["--analysis", "alignment", "--model-b", "B", "--layers-b", "2-"], "--layers-b", ""),
])
def test_bad_combinations_are_one_line_naming_the_flag(models, rows, tmp_path, cli_run, extra, flag, words):
    a_model, b_model = models
    extra = [b_model if e == "B" else e for e in extra]
    code, _, err = cli_run("analyze", "--model", a_model, "--data", str(rows), *extra, "--out", str(tmp_path / "bad"))
    assert code == 2 and err.startswith(f"Error: {flag}:") and words in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()


@pytest.mark.real_model
def test_two_real_language_models_align_en_with_zh_above_their_shuffled_null(tmp_path, cli_run):
    code, _, err = cli_run("analyze", "--analysis", "alignment", "--model", "smollm2-135m", "--model-b",
                           "gemma3-270m", "--data", "multilingual", "--views", "en,zh", "--permutations", "20",
                           "--out", str(tmp_path / "run"))
    assert code == 0, err
    pairs = json.loads((tmp_path / "run" / "results.json").read_text())["alignment"][0]
    for name in ("debiased CKA", "mutual k-NN (k=10)"):  # the best pair, chosen again under every shuffle
        top = pairs["calibration"]["metrics"][name]["max"]
        assert top["p"] <= 1 / 21 + 1e-9 and top["score"] > 0, name
        # with pairs broken (the same states, rows shuffled), even the best of all layer pairs stays far
        # below the aligned best: the null's critical value of the max (tau) is under half of it
        assert top["tau"] < pairs["best"][name]["value"] / 2, name
        assert top["observed"] == pytest.approx(pairs["best"][name]["value"])
