"""Hub cards: `semhub profile` on a tiny model (every number equals the separate run its recorded
call makes; resume recomputes only what is missing), headline numbers on known curves, `semhub
compare` (overlaid cards, flagged differences), the pages (escaped, self-contained, interactive in
headless Chromium: hover a point, toggle a series, screenshot) and the real default model."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import semhub
from semhub.cards.card import Card, Curve

from browser import in_chromium

INJECTION = '<script>document.body.setAttribute("data-pwned","1")</script>'


class Notes:
    """A Progress that keeps the notes (what ran, what was reused)."""

    def __init__(self):
        self.notes: list[str] = []

    def start(self, label, total):
        pass

    def advance(self, n):
        pass

    def note(self, text):
        self.notes.append(text)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from conftest import save_tiny_lm

    return save_tiny_lm(tmp_path_factory.mktemp("cards") / "tiny")


@pytest.fixture(scope="module")
def profiled(tiny, tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    notes = Notes()
    card = semhub.profile(str(tiny), quick=True, work=work, progress=notes)
    return card, work, notes


def test_every_number_equals_the_separate_run_of_its_recorded_call(tiny, profiled):
    card, _, notes = profiled
    assert [n.split("] ")[1] for n in notes.notes if n.endswith("running")][:2] == ["text-similarity: running",
                                                                                     "text-alignment: running"]
    assert {s.modality for s in card.spokes} == {"text", "code", "arithmetic", "semantics"}
    alone = json.loads(semhub.analyze(model=str(tiny), **card.calls["code-similarity"]).results_text)["similarity"][0]
    code = next(s for s in card.spokes if s.modality == "code")
    assert code.curves["retrieval@1"].values == alone["retrieval_at_1"]
    assert code.curves["Eq. 1"].ci95 == alone["ci95"]["eq1"]
    aligned = json.loads(semhub.analyze(model=str(tiny), **card.calls["code-alignment"]).results_text)["alignment"][0]
    assert code.curves["debiased CKA"].values == aligned["series"]["debiased CKA"]
    assert code.curves["mutual k-NN (k=10)"].chance == aligned["calibration"]["metrics"]["mutual k-NN (k=10)"]["null_mean"]
    assert code.curves["debiased CKA"].items == aligned["items"]["debiased CKA"]["values"]  # jackknife pseudo-values
    steer_call = dict(card.calls["language-steering"])
    steered = json.loads(semhub.steer(model=str(tiny), **steer_call).results_text)["steering"]["settings"]
    best = card.steering.best
    assert best["flip_rate"] == next(s["scores"]["language"] for s in steered
                                     if s["coeff"] == best["coeff"] and s["layer"] == best["layer"])
    data = card.to_json()
    assert data["schema"] == "semhub-card/2" and data["n_layers"] == 3
    head = data["spokes"][0]["curves"]["retrieval@1"]["headline"]
    assert set(head) == {"peak", "layer", "depth", "ci95", "span", "calibrated", "p", "significant",
                         "over_embeddings", "null_max"}
    assert head["null_max"] == data["spokes"][0]["curves"]["retrieval@1"]["calibrated"]["max"]["tau"]
    code_cal = alone["calibration"]["metrics"]["retrieval_at_1"]
    assert code.curves["retrieval@1"].calibrated == code_cal  # the card's calibration is the run's
    assert code.curves["retrieval@1"].headline().calibrated == code_cal["max"]["score"]
    assert code.curves["retrieval@1"].items == alone["items"]["retrieval_at_1"]["values"]
    assert code.surface == alone["surface"]
    assert Card.from_json(json.loads(json.dumps(data))).to_json() == data
    old = json.loads(json.dumps(data))  # a semhub-card/1 document still reads, without calibration
    old["schema"] = "semhub-card/1"
    for spoke in old["spokes"]:
        spoke.pop("surface")
        for c in spoke["curves"].values():
            c.pop("calibrated"), c.pop("items")
    assert Card.from_json(old).spokes[0].curves["retrieval@1"].headline().calibrated is None


def test_resume_recomputes_only_what_is_missing(tiny, profiled, tmp_path):
    card, work, _ = profiled
    copy = tmp_path / "work"
    shutil.copytree(work, copy)
    shutil.rmtree(copy / "runs" / "code-alignment")  # as if the profile was killed there
    notes = Notes()
    again = semhub.profile(str(tiny), quick=True, work=copy, resume=True, progress=notes)
    ran = [n for n in notes.notes if n.endswith("running")]
    assert len(ran) == 1 and "code-alignment" in ran[0], notes.notes
    strip = lambda c: {k: v for k, v in c.to_json().items() if k != "timings"}  # noqa: E731
    assert strip(again) == strip(card)


def test_resume_refuses_a_work_folder_of_another_model(tiny, profiled, tmp_path):
    """A killed profile's parts are never reused for other weights: the card would mix two models."""
    from conftest import save_tiny_lm

    _, work, _ = profiled
    copy = tmp_path / "work"
    shutil.copytree(work, copy)
    other = save_tiny_lm(tmp_path / "other", "qwen3")
    with pytest.raises(semhub.ParameterError) as err:
        semhub.profile(str(other), quick=True, work=copy, resume=True, progress=Notes())
    assert err.value.parameter == "resume" and "holds a profile of another model" in str(err.value)
    with pytest.raises(semhub.ParameterError, match="another quick"):
        semhub.profile(str(tiny), quick=False, work=copy, resume=True, progress=Notes())


def test_a_card_of_chosen_spokes_keeps_its_lens_and_equals_the_full_cards_rows(tiny, profiled, tmp_path):
    card, work, _ = profiled
    some = semhub.profile(str(tiny), quick=True, steering=False, spokes=["code"], work=tmp_path / "w",
                          progress=Notes())
    assert [s.modality for s in some.spokes] == ["code"] and some.lenses  # the lens parts still run
    assert "text-similarity" not in some.calls and "language-steering" not in some.calls
    full = next(s for s in card.spokes if s.modality == "code")
    assert some.spokes[0].curves["retrieval@1"].values == full.curves["retrieval@1"].values
    with pytest.raises(semhub.ParameterError, match="another spokes"):  # resume never mixes two plans
        semhub.profile(str(tiny), quick=True, steering=False, spokes=["text"], work=tmp_path / "w", resume=True,
                       progress=Notes())


def test_the_paired_test_finds_a_real_difference_and_not_a_relabelled_one():

    from semhub.cards.compare import paired_difference

    rng = np.random.default_rng(0)
    a = rng.normal(0.5, 0.1, 60)
    assert paired_difference(list(a), list(a + rng.normal(0, 0.05, 60))) > 0.05  # noise only
    assert paired_difference(list(a), list(a - 0.1 + rng.normal(0, 0.05, 60))) < 0.001  # a shift of 0.1
    assert paired_difference(list(a), list(a[:50])) is None and paired_difference(None, list(a)) is None
    # items without a value on either side (a lens row with no probe site) are left out of the pairs
    b = list(a - 0.1 + rng.normal(0, 0.05, 60))
    gaps_a, gaps_b = [None if i % 7 == 0 else v for i, v in enumerate(a)], [None if i % 5 == 0 else v for i, v in enumerate(b)]
    both = [i for i in range(60) if i % 7 and i % 5]
    assert paired_difference(gaps_a, gaps_b) == paired_difference([a[i] for i in both], [b[i] for i in both])
    assert paired_difference([1.0, None, None], [None, 2.0, 3.0]) is None  # nothing in common


def test_calibrated_headline_and_the_lens_range_that_holds():
    from semhub.analyses.spans import longest_run
    from semhub.cards.profile import lens_profile, wilson_low

    cal = {"score": [0.9, 0.0, 0.2, 0.6, 0.7, 0.0], "p": [0.01, 0.5, 0.03, 0.01, 0.01, 0.4],
           "max": {"score": 0.65, "p": 0.01, "index": 4, "tau": 0.43}}
    c = Curve("m", [0, 1, 2, 3, 4, 5], [0, .2, .4, .6, .8, 1], [0.9, 0.1, 0.3, 0.7, 0.8, 0.1], calibrated=cal)
    h = c.headline()
    assert (h.calibrated, h.p, h.significant, h.null_max) == (0.65, 0.01, [2, 4], 0.43)
    assert h.over_embeddings == pytest.approx(0.65 - 0.9)  # below the embeddings: nothing added
    assert longest_run([0, 1, 2, 3, 4], [False, True, False, True, True]) == [3, 4]
    assert wilson_low(0.6, 10) < 0.5 < wilson_low(0.6, 1000)
    rec = {"view": "es", "dominant": "en", "layers": [0, 1, 2, 3, 4, 5], "n_positions": 400,
           "dominant_wins": [0.79, 0.2, 0.7, 0.45, 0.8, 0.9], "native_logprob": [0] * 6, "dominant_logprob": [0] * 6,
           "ci95": {}}
    assert lens_profile(rec, 5).wins_range == [4, 5]  # not the embeddings, not across the dip at layer 3


def test_headline_peak_depth_span_and_interval():
    c = Curve("m", [0, 1, 2, 3, 4], [0, .25, .5, .75, 1], [0.1, 0.5, 0.95, 1.0, 0.3],
              ci95=[[0, .2], [.4, .6], [.9, 1], [.95, 1.05], [.2, .4]])
    h = c.headline()
    assert (h.peak, h.layer, h.depth, h.span, h.ci95) == (1.0, 3, 0.75, [2, 3], [.95, 1.05])
    assert Curve("m", [0, 1], [0, 1], [None, None]).headline().peak is None


def test_cli_profile_and_compare_write_complete_folders(tiny, tmp_path, cli_run):
    other = tmp_path / "other"
    from conftest import tiny_model, make_tokenizer

    model, _ = tiny_model("llama", seed=5)
    model.save_pretrained(other)
    make_tokenizer().save_pretrained(other)
    cards = []
    for name, path in (("a", tiny), ("b", other)):
        out = tmp_path / f"card-{name}"
        code, stdout, err = cli_run("profile", "--model", str(path), "--quick", "--no-steering",
                                    "--figure-format", "png,pdf,svg", "--out", str(out))
        assert code == 0, err
        assert {p.name for p in out.iterdir()} == {"card.json", "card.html", "figures", "runs"}
        assert (out / "figures" / "hub_map.pdf").read_bytes()[:4] == b"%PDF"
        assert (out / "figures" / "hub_map.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
        assert not (tmp_path / f"card-{name}.work").exists()
        cards.append(out)
    code, stdout, err = cli_run("compare", *map(str, cards), "--out", str(tmp_path / "cmp"))
    assert code == 0, err
    result = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert result["schema"] == "semhub-compare/2" and len(result["cards"]) == 2 and result["rows"]
    from semhub.cards.compare import paired_difference

    loaded = [Card.read(c) for c in cards]
    tested = set()
    for row in result["rows"]:  # per-item and set-level metrics alike, wherever both cards kept values
        items = [card.curve(row["section"], row["name"], row["metric"]).items for card in loaded]
        (p,) = row["p_difference"].values()
        assert p == paired_difference(*items) and row["differs"] == (None if p is None else p <= 0.05)
        if p is not None:
            tested.add(row["metric"])
    assert {"retrieval@1", "Eq. 1", "debiased CKA", "linear CKA", "mutual k-NN (k=10)", "en mass"} <= tested
    assert "with a paired permutation test" in stdout
    code, _, err = cli_run("compare", str(cards[0]), "--out", str(tmp_path / "one"))
    assert code == 2 and "needs at least two cards" in err and not (tmp_path / "one").exists()
    code, _, err = cli_run("compare", str(cards[0]), str(tmp_path / "nothing"), "--out", str(tmp_path / "two"))
    assert code == 2 and "no such card" in err and not (tmp_path / "two").exists()


def test_pages_escape_data_strings_and_work_in_headless_chromium(tiny, profiled, tmp_path):
    weird = tmp_path / f"rows{INJECTION.replace('/', '')}.jsonl"
    rows = semhub.dataset("code")
    weird.write_text("".join(json.dumps({"en": e, "code": c}) + "\n"
                             for e, c in zip(rows.columns["en"][:12], rows.columns["code"][:12])))
    card = semhub.profile(str(tiny), quick=True, steering=False, data={"code": str(weird)}, work=tmp_path / "w")
    page = card.html()
    assert INJECTION.replace("/", "") not in page and 'src="http' not in page  # escaped; nothing to fetch
    assert page.count('class="plot"') >= 1 + len(card.spokes)
    assert "shuffled rows reach (95%)" in page and "Which states each metric reads" in page  # null and states named
    tau = card.spokes[0].curves["retrieval@1"].calibrated["max"]["tau"]
    assert f"<td>{tau:.3f}</td>" in page.split("shuffled rows reach")[1].split("</table>")[0]
    probe = in_chromium(page, tmp_path / "card")
    first = card.spokes[0]
    assert probe["hover"] and f"layer {next(iter(first.curves.values())).layers[1]}" in probe["hover"]
    comparison = semhub.compare(card, profiled[0]).html()
    assert INJECTION.replace("/", "") not in comparison
    probe = in_chromium(comparison, tmp_path / "compare")
    assert probe["hover"] and "layer" in probe["hover"]


def test_card_in_a_notebook_and_as_a_table(profiled):
    card, _, _ = profiled
    fragment = card._repr_html_()
    assert "<table>" in fragment and "Plotly.newPlot" in fragment
    comparison = semhub.compare(card, card)
    assert all(r["differs"] in (False, None) for r in comparison.rows)  # a card never differs from itself
    assert "<table>" in comparison._repr_html_()
    pd = pytest.importorskip("pandas", reason="optional: Card.to_pandas needs pandas")
    frame = card.to_pandas()
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0 and set(frame["section"]) <= {"spoke", "lens"}


@pytest.mark.real_model
def test_quick_card_of_the_default_model(tmp_path, cli_run):
    out = tmp_path / "card"
    # steering is left out here: the card's steering part is tested on a tiny model (test_every_number_...)
    # and the language preset's behaviour on this model by test_language_steering_bar (40 prompts)
    code, stdout, err = cli_run("profile", "--quick", "--no-steering", "--out", str(out))
    assert code == 0, err
    card = Card.read(out)
    assert card.model["name"] == "gemma3-270m" and card.quick and card.steering is None
    assert {s.modality for s in card.spokes} == {"text", "code", "arithmetic", "semantics"}
    text = next(s for s in card.spokes if s.name == "text: en vs zh")
    head = text.curves["retrieval@1"].headline()
    assert 0 < head.layer < card.n_layers and head.peak > 0.5  # the hub: an inner layer retrieves
    assert any(l.wins_range for l in card.lenses if "dominant wins" in l.curves)
    assert {p.name for p in (out / "runs").iterdir()} == set(card.calls) and "language-steering" not in card.calls
    lens = next(lp for lp in card.lenses if "dominant wins" in lp.curves)
    rows = lens.curves["dominant wins"].items  # per data row at the curve's peak; None: a row with no probe site
    assert len(rows) == 40 and sum(v is not None for v in rows) >= 20
    same = semhub.compare(card, card)  # lens rows now pair row by row: a card never differs from itself
    lens_rows = [r for r in same.rows if r["section"] == "lens"]  # the lens and the language trends
    assert any(r["metric"] == "dominant wins" for r in lens_rows) and any(r["metric"] == "en mass" for r in lens_rows)
    assert all(r["differs"] is False for r in lens_rows)
