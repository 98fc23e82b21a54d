"""The same command twice gives identical results.json numbers; the seeds are in the manifest."""
from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from conftest import save_tiny_lm

    return save_tiny_lm(tmp_path_factory.mktemp("determinism") / "tiny")


def run_twice(cli_run, tmp_path, *args: str) -> tuple[str, str, dict]:
    texts = []
    for k in (1, 2):
        out = tmp_path / f"run{k}"
        code, _, err = cli_run(*args, "--out", str(out))
        assert code == 0, err
        texts.append((out / "results.json").read_text())
        manifest = json.loads((out / "manifest.json").read_text())
    return texts[0], texts[1], manifest


@pytest.mark.parametrize("analysis", ["similarity", "logit-lens", "language-trends"])
def test_analyze_twice_gives_identical_results(analysis, tiny_dir, tmp_path, cli_run):
    first, second, manifest = run_twice(cli_run, tmp_path, "analyze", "--model", str(tiny_dir), "--analysis", analysis,
                                        "--views", "en,es", "--limit", "12", "--bootstrap", "200", "--seed", "7")
    assert first == second
    assert manifest["seed"] == 7 and manifest["options"]["n_boot"] == 200


def test_the_bootstrap_seed_is_what_makes_it_repeat(tiny_dir, tmp_path, cli_run):
    args = ("analyze", "--model", str(tiny_dir), "--views", "en,es", "--limit", "12", "--bootstrap", "200")
    ci = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}"
        assert cli_run(*args, "--seed", seed, "--out", str(out))[0] == 0
        (rec,) = json.loads((out / "results.json").read_text())["similarity"]
        ci.append(rec["ci95"]["eq1"])
    assert ci[0] != ci[1]  # a different seed draws different resamples; the same seed, the same ones


def test_sampled_steering_twice_gives_identical_generations(tiny_dir, tmp_path, cli_run):
    args = ("steer", "--model", str(tiny_dir), "--unembed", "cat", "dog", "--layers", "1", "--coeff", "4",
            "--prompt", "the big", "--prompt", "a small red", "--sample", "--seeds", "3,4", "--max-new-tokens", "6",
            "--scorer", "perplexity")
    first, second, manifest = run_twice(cli_run, tmp_path, *args)
    assert first == second
    assert (tmp_path / "run1" / "continuations.json").read_text() == (tmp_path / "run2" / "continuations.json").read_text()
    assert manifest["options"]["seeds"] == [3, 4] and manifest["options"]["do_sample"] is True
