"""The Jacobian lens: J_l fitted by vector-Jacobian products, the reference artifact, the lens kind."""
from __future__ import annotations

import json

import pytest
import torch

import semhub
from conftest import tiny_backbone
from semhub.errors import DataError, ParameterError
from semhub.lens.jacobian import (
    fit_jacobian,
    lens_file,
    load_jacobian_lens,
    read_jacobians,
    save_jacobian_lens,
)
from semhub.lens.kinds import build_lens

TEXTS = ["the cat sat on the mat and the dog sat on the red house", "one two three four five one two three four"]


def reference_jacobian(bb, text: str, layer: int, skip_first: int) -> torch.Tensor:
    """J_layer of one prompt by full autograd: the whole (T, d, T, d) Jacobian of the last block's output
    with respect to the layer's states, summed over valid targets t' >= t, averaged over valid sources t."""
    from semhub.backbone.convention import hook_layer

    ids = bb.tokenizer(text, return_tensors="pt")["input_ids"]
    T, L = ids.shape[1], bb.n_layers
    states = {}

    def grab(layer_: int):
        def fn(h):
            states[layer_] = h
        return fn

    handles = [hook_layer(bb, layer, grab(layer)), hook_layer(bb, L, grab(L))]
    with torch.no_grad():
        bb.base(input_ids=ids)
    for h in handles:
        h.remove()
    base = states[layer][0].detach().clone()

    def f(x):
        h = hook_layer(bb, layer, lambda _: x.unsqueeze(0))
        out = {}
        g = hook_layer(bb, L, lambda h_: out.setdefault("h", h_))
        try:
            bb.base(input_ids=ids)
        finally:
            h.remove()
            g.remove()
        return out["h"][0]

    full = torch.autograd.functional.jacobian(f, base)  # (T, d, T, d): d out[t', i] / d x[t, j]
    valid = list(range(skip_first, T - 1))
    rows = [sum(full[tp, :, t, :] for tp in valid if tp >= t) for t in valid]
    return torch.stack(rows).mean(0)


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_fitted_matrices_equal_full_autograd(family):
    bb = tiny_backbone(family)
    layers = list(range(1, bb.n_layers))
    got, n = fit_jacobian(bb, TEXTS, layers=layers, dim_batch=5, skip_first=2)
    assert n == 2 and sorted(got) == layers
    for layer in layers:
        want = sum(reference_jacobian(bb, t, layer, 2) for t in TEXTS) / 2
        assert torch.allclose(got[layer], want, atol=1e-4), (layer, (got[layer] - want).abs().max())
    assert all(p.requires_grad for p in bb.model.parameters())  # frozen for the fit only


def test_the_artifact_round_trips_in_the_reference_layout_and_reads_as_the_lens(tmp_path):
    bb = tiny_backbone("llama")
    L, d = bb.n_layers, bb.d_model
    torch.manual_seed(0)
    jac = {layer: torch.randn(d, d) / d ** 0.5 + torch.eye(d) for layer in range(1, L)}
    path = save_jacobian_lens(tmp_path / "lens.pt", jac, n_prompts=7, d_model=d, metadata={"corpus": "x"})
    raw = torch.load(path, weights_only=True)
    assert sorted(raw) == ["J", "d_model", "metadata", "n_prompts", "source_layers"]
    assert raw["source_layers"] == list(range(L - 1)) and raw["J"][0].dtype == torch.float16  # block-output keys
    lens = build_lens(bb, "jacobian", path=path)
    h = torch.randn(3, d)
    for layer in range(L + 1):
        matrix = raw["J"][layer - 1].float() if 1 <= layer < L else torch.eye(d)
        want = semhub.Lens(bb).prepare(h @ matrix.T, layer)
        assert torch.allclose(lens.prepare(h, layer), want, atol=1e-5)
    assert lens.describe()["n_prompts"] == 7 and lens.describe()["layers"] == list(range(1, L))
    # a reference fit checkpoint (running sums) reads as the same means
    torch.save({"jacobian_sum": {k: v.float() * 4 for k, v in raw["J"].items()}, "n_done": 4, "next_idx": 4,
                "source_layers": raw["source_layers"], "target_layer": L - 1, "skip_first": 16}, tmp_path / "ck.pt")
    again, n, _ = read_jacobians(tmp_path / "ck.pt")
    assert n == 4 and all(torch.allclose(again[k], raw["J"][k - 1].float()) for k in again)


def test_bad_lens_files_and_names_are_one_line_errors(tmp_path):
    bb = tiny_backbone("llama")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="cannot read a Jacobian lens"):
        load_jacobian_lens(bb, tmp_path / "junk.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(DataError, match="expected a 'J'"):
        load_jacobian_lens(bb, tmp_path / "other.pt")
    save_jacobian_lens(tmp_path / "wide.pt", {1: torch.eye(bb.d_model + 1)}, n_prompts=1, d_model=bb.d_model + 1)
    with pytest.raises(ParameterError, match="does not fit"):
        load_jacobian_lens(bb, tmp_path / "wide.pt")
    with pytest.raises(ParameterError, match="not a Jacobian lens file nor a published lens"):
        lens_file("no-such-model")
    with pytest.raises(ParameterError, match="needs --lens-path"):
        build_lens(bb, "jacobian")


def test_a_published_name_is_read_from_the_hub_cache_at_the_registry_revision(tmp_path, monkeypatch):
    """``neuronpedia/jacobian-lens:gemma-3-270m``: the registry's file at its pinned revision, read offline from
    a hub cache laid out as huggingface_hub writes it; other repositories take ``REPO:FILE.pt``."""
    import json

    from semhub.lens import jacobian

    registry = json.loads(jacobian.REGISTRY.read_text())
    bb = tiny_backbone("llama")
    snapshot = tmp_path / "hub" / "models--neuronpedia--jacobian-lens" / "snapshots" / registry["revision"]
    target = snapshot / registry["files"]["gemma-3-270m"]
    target.parent.mkdir(parents=True)
    save_jacobian_lens(target, {1: torch.eye(bb.d_model)}, n_prompts=3, d_model=bb.d_model)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as constants
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    for name in ("neuronpedia/jacobian-lens:gemma-3-270m", "gemma-3-270m"):
        assert lens_file(name).resolve() == target.resolve()
    lens = build_lens(bb, "jacobian", path="neuronpedia/jacobian-lens:gemma-3-270m")
    assert lens.n_prompts == 3
    with pytest.raises(ParameterError, match="gemma-3-1b-pt_jacobian_lens.pt: not in the local hub cache"):
        lens_file("gemma-3-1b")
    with pytest.raises(ParameterError, match="someone/lenses/model/j.pt"):
        lens_file("someone/lenses:model/j.pt")
    with pytest.raises(ParameterError, match="hubber/lenses/model/j.pt"):  # a repository whose name starts with hub
        lens_file("hubber/lenses:model/j.pt")


def test_fit_lens_writes_a_lens_every_lens_analysis_reads_through(tmp_path, cli_run, monkeypatch):
    """`semhub fit-lens` on a saved tiny model: the file holds the fitted matrices (equal to fit_jacobian on
    the same texts), the report judges it on held-out texts, and logit-lens and lens-quality read through it."""
    import json

    from conftest import save_tiny_lm

    model = save_tiny_lm(tmp_path / "m")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS + ["red blue green house tree river sun moon big small", "the a cat dog sat"]))
    code, out, err = cli_run("fit-lens", "--model", str(model), "--out", str(tmp_path / "j"), "--corpus", str(corpus),
                             "--prompts", "3", "--judge", "1", "--skip-first", "2", "--dim-batch", "7")
    assert code == 0, err
    assert "KL Jacobian lens" in out and "Jacobian lens written to" in out
    file = tmp_path / "j.pt"  # the suffix is added
    jac, n, meta = read_jacobians(file)
    assert n == 3 and meta["dim_batch"] == 7 and meta["skip_first_positions"] == 2
    bb = semhub.ModelSpec(str(model)).load()
    assert sorted(jac) == list(range(1, bb.n_layers))
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"en": a, "es": b}) for a, b in (
        ("the red cat", "el gato rojo"), ("the blue house", "la casa azul"), ("one two three", "uno dos tres"))))
    quality = semhub.analyze("lens-quality", backbone=bb, data=data, views=["en"], n_boot=0, lens="jacobian",
                             lens_path=file).results["lens_quality"][0]
    assert set(quality["series"]) == {"logit", "jacobian"}
    # with the model's trained tuned lens in its cache folder, lens-quality judges all three side by side
    from semhub.lens.kinds import default_lens_folder
    from semhub.lens.tuned import save_tuned_lens

    monkeypatch.setenv("SEMHUB_CACHE_DIR", str(tmp_path / "cache"))
    L, d = bb.n_layers, bb.d_model
    save_tuned_lens(default_lens_folder(bb), torch.zeros(L, d, d), torch.zeros(L, d), base_model="tiny")
    three = semhub.analyze("lens-quality", backbone=bb, data=data, views=["en"], n_boot=0, lens="jacobian",
                           lens_path=file).results["lens_quality"][0]
    assert set(three["series"]) == {"logit", "jacobian", "tuned"}
    assert three["series"]["tuned"] == pytest.approx(three["series"]["logit"], abs=1e-4)  # zero translators
    run = semhub.analyze("logit-lens", backbone=bb, data=data, views=["en", "es"], n_boot=0, lens="jacobian",
                         lens_path=file)
    lens = run.results["logit_lens"][0]
    assert lens["lens"]["lens"] == "jacobian" and lens["lens"]["n_prompts"] == 3
    assert run.result.summary_title.startswith("jacobian lens: ")  # the table names the lens it read through
    code, _, err = cli_run("fit-lens", "--model", str(model), "--out", str(tmp_path / "k.pt"), "--corpus",
                           str(corpus), "--prompts", "3", "--judge", "1", "--skip-first", "40")
    last = err.splitlines()[-1]  # after the progress notes: one line naming the option
    assert code == 2 and last.startswith("Error: --corpus: every prompt was too short") and "Traceback" not in err
    assert not (tmp_path / "k.pt").exists()


PEER = __import__("pathlib").Path(__file__).resolve().parents[1] / ".venv-jlens" / "bin" / "python"


@pytest.mark.skipif(not PEER.exists(), reason="optional extra: the TransformerLens 4.3 venv (make jlens-peer; "
                                               "make test builds it)")
def test_transformer_lens_reads_semhubs_lens_and_semhub_reads_and_refits_transformer_lens(tmp_path):
    """The independent implementation: TransformerLens 4.3's JacobianLens, in its own venv, fits a lens on
    the same tiny model and texts; its file loads in semhub with the same matrices as semhub's own fit, and
    each side's read-outs of the other's file (per layer, every position) agree."""
    import subprocess

    from conftest import save_tiny_lm

    folder = save_tiny_lm(tmp_path / "m", "llama")
    bb = semhub.ModelSpec(str(folder)).load()
    L = bb.n_layers
    ours, _ = fit_jacobian(bb, TEXTS, dim_batch=4, skip_first=2)
    save_jacobian_lens(tmp_path / "ours.pt", ours, n_prompts=len(TEXTS), d_model=bb.d_model, dtype=torch.float32)
    done = subprocess.run([str(PEER), str(__import__("pathlib").Path(__file__).parent / "peers" / "tl_jacobian_lens.py"),
                           str(folder), str(tmp_path / "ours.pt"), str(tmp_path / "tl.pt"), *TEXTS],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = load_jacobian_lens(bb, str(tmp_path / "tl.pt") + ".lens.pt")
    assert sorted(theirs.jacobians) == list(range(1, L)) and theirs.n_prompts == len(TEXTS)
    for layer in range(1, L):
        assert torch.allclose(theirs.jacobians[layer], ours[layer], atol=1e-5), layer
    got = torch.load(tmp_path / "tl.pt", weights_only=True)
    ids = got["tokens"].unsqueeze(0)
    states = {}
    from semhub.backbone.convention import run_layers

    run_layers(bb, [semhub.Encoded({"input_ids": ids, "attention_mask": torch.ones_like(ids)},
                                   {"content": torch.ones_like(ids, dtype=torch.bool)})],
               list(range(L + 1)), lambda layer, h, _b: states.__setitem__(layer, h[0].float()))
    for name, lens in (("semhub", load_jacobian_lens(bb, tmp_path / "ours.pt")), ("fitted", theirs)):
        for tl_layer, logits in got[name].items():  # block-output index: semhub layer + 1
            mine = lens.prepare(states[tl_layer + 1], tl_layer + 1).float() @ lens.weight.float().T
            assert torch.allclose(torch.log_softmax(mine, -1), torch.log_softmax(logits, -1), atol=1e-3), (name, tl_layer)


def test_steer_jlens_adds_the_words_jlens_vector(tmp_path, cli_run):
    """`semhub steer --jlens WORD --layer l --lens-path FILE`: the vector written is row t of W_U J_l (t: the
    word's first token), read at and added at layer l; it raises the word's log-probability; missing
    pieces are one-line errors before any model loads."""
    from conftest import save_tiny_lm

    from semhub.steering.vectors import load_vector

    folder = save_tiny_lm(tmp_path / "m", "llama")
    bb = semhub.ModelSpec(str(folder)).load()
    torch.manual_seed(1)
    jac = {layer: torch.eye(bb.d_model) + 0.1 * torch.randn(bb.d_model, bb.d_model) for layer in range(1, bb.n_layers)}
    lens_path = save_jacobian_lens(tmp_path / "j.pt", jac, n_prompts=1, d_model=bb.d_model, dtype=torch.float32)
    code, out, err = cli_run("steer", "--model", str(folder), "--jlens", "cat", "--layer", "1", "--lens-path",
                             str(lens_path), "--prompt", "the dog sat on the", "--coeff", "4", "--target-word", "cat",
                             "--max-new-tokens", "2", "--out", str(tmp_path / "run"))
    assert code == 0, err
    vec = load_vector(tmp_path / "run" / "vector.safetensors")
    token = bb.tokenizer.convert_tokens_to_ids("cat")
    want = bb.part("unembedding").weight[token].float() @ jac[1]
    assert vec.layer == 1 and torch.allclose(vec.vector, want, atol=1e-5)
    assert vec.provenance["method"] == "jacobian-lens" and vec.provenance["token"] == "cat"
    record = json.loads((tmp_path / "run" / "results.json").read_text())["steering"]["settings"][-1]
    assert record["layer"] == 1 and record["coeff"] == 4.0 and record["target_logprob_shift"] > 0
    for args, message in ((["--jlens", "cat", "--prompt", "x"], "--layer: the J-lens vector is read at a layer"),
                          (["--jlens", "cat", "--layer", "1", "--prompt", "x"], "--lens-path: the Jacobian lens needs"),
                          (["--unembed", "a", "b", "--lens-path", str(lens_path), "--prompt", "x"],
                           "--lens-path: only a --jlens vector reads a lens")):
        code, _, err = cli_run("steer", "--model", str(folder), *args, "--out", str(tmp_path / "bad"))
        assert code == 2 and err.count("\n") == 1 and message in err, err
