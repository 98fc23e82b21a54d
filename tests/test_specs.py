"""The ingredients every entry point takes: ModelSpec, DataSpec, StoreSpec, EngineSpec and one Progress.
Keywords build the same specs; a field given twice is refused; data is validated once; the CLI's shared
flags are generated from the specs' fields."""
from __future__ import annotations

import re

import pytest

import semhub
from semhub import DataSpec, EngineSpec, ModelSpec, ParameterError, StoreSpec
from semhub.backbone.loading import DTYPES


def test_specs_and_keywords_give_byte_identical_results(tiny):
    model, data = tiny
    by_keywords = semhub.analyze(model=str(model), data=str(data), views=["en", "fr"], limit=5, dtype="float32",
                                 n_boot=20)
    by_specs = semhub.analyze(model=ModelSpec(model=str(model), dtype="float32"),
                              data=DataSpec(data=str(data), views=["en", "fr"], limit=5), n_boot=20)
    assert by_specs.results_text == by_keywords.results_text
    options = by_specs.manifest["options"]  # the manifest is written from the specs
    assert options["model"] == str(model) and options["dtype"] == "float32" and options["limit"] == 5
    assert options["views"] == ["en", "fr"] and options["engine"] == "local"


def test_a_field_given_in_a_spec_and_as_a_keyword_is_refused(tiny):
    model, data = tiny
    with pytest.raises(ParameterError, match="^dtype: give it inside the ModelSpec or as a keyword, not both"):
        semhub.analyze(model=ModelSpec(model=str(model)), data=str(data), dtype="float16")
    with pytest.raises(ParameterError, match="^views: give it inside the DataSpec"):
        semhub.analyze(model=str(model), data=DataSpec(data=str(data)), views=["en", "fr"])


def test_specs_check_before_anything_loads(tiny, tmp_path):
    model, data = tiny
    missing = tmp_path / "no-model"  # loading it would fail: each check must come first
    cases = [(ModelSpec(model=str(missing), dtype="float8"), "dtype"),
             (ModelSpec(model=str(missing), device_map="everywhere"), "--device-map"),
             (ModelSpec(model=str(missing), offload_folder=tmp_path / "off"), "--offload-folder"),
             (ModelSpec(model="  "), "model")]
    for spec, named in cases:
        with pytest.raises(semhub.SemhubError, match=re.escape(named)):
            spec.check()
        with pytest.raises(semhub.SemhubError, match=re.escape(named)):
            semhub.analyze(model=spec, data=str(data))
    with pytest.raises(ParameterError, match="^resume: needs store"):
        semhub.analyze(model=str(missing), data=str(data), store=StoreSpec(resume=True))
    with pytest.raises(ParameterError, match="^address: needs engine ray"):
        semhub.analyze(model=str(missing), data=str(data), engine=EngineSpec(address="10.0.0.1:6379"))
    spec = ModelSpec(model=str(model), device_map='{"model": "cpu"}')
    spec.check()
    assert spec.device_map == {"model": "cpu"}  # parsed once, the parsed form kept


def test_data_is_resolved_and_validated_once(tiny, monkeypatch):
    """Every value is validated once per run (analyze resolved it and the context validated it again)."""
    from semhub.default_plugins.text import TextSpoke

    model, data = tiny
    seen = []
    original = TextSpoke.validate
    monkeypatch.setattr(TextSpoke, "validate", lambda self, value, base: seen.append(value) or original(self, value, base))
    semhub.analyze(model=str(model), data=str(data), views=["en", "fr"], limit=4, n_boot=0)
    assert len(seen) == 4 * 2 and len(set(seen)) == 8


def test_resolved_inputs_build_a_context_without_validating_again(tiny):
    model, data = tiny
    bb = ModelSpec(model=str(model)).load()
    inputs = DataSpec(data=str(data), views=["en", "fr"], limit=3).resolve()
    assert inputs.views == ["en", "fr"] and len(inputs.dataset) == 3
    ctx = semhub.build_context(bb, inputs, settings=semhub.RunSettings(), layers=[0, 1])
    assert tuple(ctx.states("fr").shape) == (3, 2, bb.d_model)
    with pytest.raises(ParameterError, match="^views: 'en' needs at least two views"):
        DataSpec(data=str(data), views=["en"]).resolve(minimum=2)


class Recorder(semhub.Progress):
    def __init__(self):
        self.calls = []

    def start(self, label, total):
        self.calls.append(("start", label))

    def advance(self, n):
        self.calls.append(("advance", n))

    def note(self, text):
        self.calls.append(("note", text))


def test_one_progress_interface_for_every_entry_point(tiny, tmp_path):
    from conftest import tiny_backbone

    model, data = tiny
    for call in (lambda p: semhub.analyze(model=str(model), data=str(data), views=["en", "fr"], n_boot=0, progress=p),
                 lambda p: semhub.patchscope(["the cat"], model=str(model), layers="1", max_new_tokens=1, progress=p),
                 lambda p: semhub.steer(model=str(model), unembed=("cat", "dog"), layers=[1], coeffs=[1.0],
                                        prompts=["the"], max_new_tokens=2, scorers=[], progress=p),
                 lambda p: semhub.train_lens(backbone=tiny_backbone("llama"), data=["the cat sat on the mat"] * 40,
                                             out=tmp_path / "lens", steps=1, max_tokens=100, judge_tokens=10,
                                             tail=4, top_k=2, step_positions=8, progress=p)):
        recorder = Recorder()
        call(recorder)
        kinds = {kind for kind, _ in recorder.calls}
        assert kinds & {"start", "note"}, recorder.calls


def test_the_cli_flags_are_generated_from_the_specs(cli_run):
    code, out, _ = cli_run("analyze", "--help")
    assert code == 0
    for ingredient in (ModelSpec, DataSpec, StoreSpec, EngineSpec):
        for spec in ingredient.specs():
            assert spec.flag in out, (ingredient.__name__, spec.flag)
    assert "[auto|float32|float16|bfloat16]" in out.replace("\n", "") or all(d in out for d in DTYPES)
    for command in ("steer", "patchscope", "train-lens", "profile", "reproduce", "lens"):
        code, out, _ = cli_run(command, "--help")
        assert code == 0 and "--device-map" in out and "--dtype" in out and "--offload-folder" in out, command
