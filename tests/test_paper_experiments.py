"""The paper's last two experiments: the code semantic-role lens (3.2) and the arithmetic PCA (2.3)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import semhub
from semhub_arithmetic.pca import fit_plane, standardise
from semhub_code.roles import arguments, role_of

PROGRAM = (
    "def area(width, height):\n"
    "    return width * height\n"
    "def f(xs, n):\n"
    "    total = area(n, 2)\n"
    "    print(sorted(xs), len(xs), max(xs), int(n, 10))\n"
    "    return area((n), n) + area(width, n) + isinstance(n, int)\n"
)


def test_roles_follow_the_papers_rules():
    got = [(a.callee, a.index, a.role, a.surface) for a in arguments(PROGRAM)]
    assert ("area", 0, "width", "n") in got and ("area", 1, "height", "2") in got
    assert ("sorted", 0, "iterable", "xs") in got  # inspect.signature
    assert ("int", 1, "base", "10") in got  # the paper's table for builtins inspect cannot read
    assert ("isinstance", 1, "class_or_tuple", "int") in got
    assert not any(c == "len" for c, *_ in got)  # its parameter is obj
    assert not any(c == "max" for c, *_ in got)  # overloaded: left out
    assert not any(s == "(n)" or s.startswith("(") for *_, s in got)
    assert not any(r == s for _, _, r, s in got)  # area(width, n): role equals the argument
    for arg in arguments(PROGRAM):
        assert PROGRAM[arg.key] in "(,"
    assert role_of("unknown_import", 0, __import__("ast").parse(PROGRAM)) is None


def test_standardise_and_the_anchor_plane():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4))
    x[1, :, 2] = 7.0  # a constant dimension stays 0, as scikit-learn's StandardScaler leaves it
    z = standardise(x)
    assert np.allclose(z.mean(1), 0) and np.allclose(z[0].std(0), 1) and np.allclose(z[1, :, 2], 0)
    points = rng.normal(size=(20, 6)) * np.array([5, 3, 1, 1, 0.5, 0.1])
    mean, comps, ratio = fit_plane(points)
    cov = np.cov(points - mean, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    for k in range(2):
        v = vectors[:, -1 - k]
        assert abs(abs(comps[k] @ v) - 1) < 1e-8
        assert abs(ratio[k] - values[-1 - k] / values.sum()) < 1e-8
        assert comps[k][np.abs(comps[k]).argmax()] > 0


def raw_lens(bb, text: str) -> tuple[dict, torch.Tensor]:
    enc = bb.tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
    with torch.no_grad():
        hs = bb.model(input_ids=enc["input_ids"], output_hidden_states=True).hidden_states
    weight = bb.part("unembedding").weight.detach().float()
    return enc, torch.stack([(h[0] @ weight.T).log_softmax(-1) for h in hs[1:]])  # (L, T, V)


@pytest.mark.real_model
def test_code_roles_equal_the_raw_lens_on_the_default_model(gemma, tmp_path):
    data = tmp_path / "code.jsonl"
    data.write_text(json.dumps({"id": "p", "code": PROGRAM}) + "\n" + json.dumps({"id": "q", "code": "x = 1"}) + "\n")
    run = semhub.analyze("code-roles", backbone=gemma, data=data, views=["code"], paper=True, n_boot=0)
    rec = run.results["code_roles"][0]
    enc, logprobs = raw_lens(gemma, PROGRAM)
    ends = {int(e) - 1: j for j, (s, e) in enumerate(enc["offset_mapping"][0].tolist()) if e > s}
    want = []
    for arg in arguments(PROGRAM):
        j = ends.get(arg.key)
        role, surface = (semhub.word_token_ids(gemma, [w])[0] for w in (arg.role, arg.surface))
        if j is not None and role != surface:
            want.append(logprobs[:, j, role] - logprobs[:, j, surface])
    assert rec["n_arguments"] == len(want) >= 5
    got = torch.tensor(rec["difference"])
    assert torch.allclose(got, torch.stack(want).float(), rtol=1e-4, atol=2e-3)
    assert rec["layers"] == list(range(1, gemma.n_layers + 1)) and rec["lens_norm"] is False
    assert np.allclose(rec["role_wins"], (got > 0).double().mean(0).numpy())


@pytest.mark.real_model
def test_arithmetic_pca_projects_each_layer_on_the_anchor_plane(gemma):
    from semhub_arithmetic.pca import anchors

    ds = semhub.dataset("arithmetic", limit=40)
    run = semhub.analyze("arithmetic-pca", backbone=gemma, data=ds, views=["arithmetic_answer"], paper=True,
                         n_boot=0)
    rec = run.results["arithmetic_pca"][0]
    sums = [i for i, p in enumerate(ds.columns["arithmetic_answer"]) if p.endswith("+")]
    assert rec["n"] == len(sums) and rec["layers"] == list(range(gemma.n_layers + 1))  # hs[0] kept
    labels, rows = anchors(gemma)
    assert labels[:4] == ["0", "zero", "1", "one"]
    mean, comps, _ = fit_plane(rows)
    coords = []
    for i in sums:
        enc = gemma.tokenizer(ds.columns["arithmetic_answer"][i], return_tensors="pt")
        with torch.no_grad():
            hs = gemma.model(**enc, output_hidden_states=True).hidden_states
        states = torch.stack([h[0, -1] for h in hs]).double().numpy()
        coords.append((standardise(states[None])[0] - mean) @ comps.T)
    coords = np.stack(coords)
    assert np.allclose(np.asarray(rec["mean_trajectory"]), coords.mean(0), atol=1e-3)
    placed = {a["label"]: (a["x"], a["y"]) for a in rec["anchors"]}
    answers = [int(ds.columns["answer"][i]) for i in sums]
    word = np.array([placed[labels[2 * a + 1]] for a in answers])[:, None]
    digit = np.array([placed[str(a)] for a in answers])[:, None]
    nearer = (np.linalg.norm(coords - word, axis=-1) < np.linalg.norm(coords - digit, axis=-1)).mean(0)
    assert np.allclose(rec["word_nearer"], nearer)
