"""``--paper`` is the paper's code: its formulas, written here from docs (../shared/reference/
paper-experiments.md, sections 0 and 1.1-1.2), against ``semhub.analyze(..., paper=True)``.

Eq. 1 (1.1): each text alone, with BOS, after the suffix augmentation ("This represents" after a
final "." or '."', "这代表了" after "。"); the last token of hidden_states[1..L]; the cosine of every
pair; the mean matched cosine minus one global mean over all off-diagonal pairs.
Dictionary lens (1.2): each text alone, without BOS; a word is probed where its segment's span
equals exactly one token's (jieba for Chinese); two tokens sharing such a span drop the text; the
raw lens (log-softmax of W_U h over the whole vocabulary) at the token before the word; per layer,
the mean of log p(the word's token) and of the best single-token translation.
"""
from __future__ import annotations

import json
import re

import pytest
import torch
import torch.nn.functional as F

import semhub
from conftest import tiny_backbone
from semhub.errors import ParameterError

TINY_ROWS = [
    ("the cat sat on the mat", "el gato rojo"),
    ("the dog runs", "el perro azul"),
    ("a big house on the river", "la casa"),
    ("the sun and the moon", "el agua"),
    ("one two three", "uno dos tres"),
    ("the red tree sleeps on the mat", "un gato y un perro"),
]


def hidden_states(bb, text: str, bos: bool) -> tuple[list[int], list[tuple[int, int]], torch.Tensor]:
    """(ids, offsets, hidden_states[1..L] as (L, T, D)) of one text run alone."""
    enc = bb.tokenizer(text, add_special_tokens=bos, return_offsets_mapping=True, return_tensors="pt")
    with torch.no_grad():
        hs = bb.model(input_ids=enc["input_ids"], output_hidden_states=True).hidden_states
    return enc["input_ids"][0].tolist(), [tuple(o) for o in enc["offset_mapping"][0].tolist()], torch.stack(hs[1:])[:, 0]


def paper_augment(text: str, language: str) -> str:
    if language == "zh" and text.endswith("。"):
        return text + "这代表了"
    if language == "en" and (text.endswith(".") or text.endswith('."')):
        return text + "This represents"
    return text


def paper_eq1(bb, a_texts: list[str], b_texts: list[str]) -> torch.Tensor:
    a = torch.stack([hidden_states(bb, t, True)[2][:, -1] for t in a_texts])  # (n, L, D)
    b = torch.stack([hidden_states(bb, t, True)[2][:, -1] for t in b_texts])
    cos = F.cosine_similarity(a[:, None], b[None, :], dim=-1)  # (n, n, L)
    n = len(a_texts)
    diag = torch.diagonal(cos, dim1=0, dim2=1).sum(1)
    return diag / n - (cos.sum((0, 1)) - diag) / (n * (n - 1))


def paper_lens(bb, texts: list[str], translations: dict[str, list[str]], segment, candidate_ids) -> tuple:
    """Per-layer mean log p of the next token and of its best translation, over the paper's sites."""
    weight = bb.part("unembedding").weight.detach().float()
    native, dominant = [], []
    for text in texts:
        ids, offsets, hs = hidden_states(bb, text, False)
        spans = segment(text)
        sites, dropped = [], False
        for start, end in spans:
            at = [j for j, o in enumerate(offsets) if o == (start, end)]
            if len(at) > 1:
                dropped = True
                break
            word = text[start:end]
            if len(at) == 1 and at[0] > 0 and word in translations:
                cands = [c for c in (candidate_ids(t) for t in translations[word]) if len(c) == 1]
                if cands:
                    sites.append((at[0], [c[0] for c in cands]))
        if dropped:
            continue
        for j, cands in sites:
            logprobs = (hs[:, j - 1] @ weight.T).log_softmax(-1)  # (L, V): the raw lens
            native.append(logprobs[:, ids[j]])
            dominant.append(logprobs[:, cands].max(1).values)
    assert native, "no site"
    return torch.stack(native).mean(0), torch.stack(dominant).mean(0), len(native)


def write_rows(path, rows, a="en", b="es"):
    path.write_text("\n".join(json.dumps({"id": str(i), a: x, b: y}) for i, (x, y) in enumerate(rows)) + "\n")
    return path


# ---- a tiny model ---------------------------------------------------------------------------


def test_paper_eq1_and_a_template_on_a_tiny_model(tmp_path):
    bb = tiny_backbone("llama")
    data = write_rows(tmp_path / "d.jsonl", TINY_ROWS)
    run = semhub.analyze("similarity", backbone=bb, data=data, views=["en", "es"], paper=True, n_boot=0)
    rec = run.results["similarity"][0]
    plain = paper_eq1(bb, [a for a, _ in TINY_ROWS], [b for _, b in TINY_ROWS])  # no row ends in "."
    assert rec["layers"] == list(range(1, bb.n_layers + 1))
    assert torch.allclose(torch.tensor(rec["eq1"]), plain, atol=1e-5)
    # a template of one's own, with the paper's other choices spelled out
    template = tmp_path / "t.toml"
    template.write_text('[en]\nsuffix = " is big"\nafter = ["mat"]\n[es]\nprefix = "la "\n')
    own = semhub.analyze("similarity", backbone=bb, data=data, views=["en", "es"], n_boot=0, pooling="last",
                         center=False, final_norm=True, layers=f"1-{bb.n_layers}", template=str(template))
    want = paper_eq1(bb, [t + " is big" if t.endswith("mat") else t for t, _ in TINY_ROWS],
                     ["la " + t for _, t in TINY_ROWS])
    got = torch.tensor(own.results["similarity"][0]["eq1"])
    assert torch.allclose(got, want, atol=1e-5) and not torch.allclose(got, plain, atol=1e-3)
    assert own.manifest["options"]["text_template"]["languages"]["en"] == {"prefix": "", "suffix": " is big", "after": ["mat"]}
    assert run.manifest["options"]["text_template"]["name"] == "paper"


def test_paper_dictionary_lens_on_a_tiny_model(tmp_path):
    bb = tiny_backbone("qwen2")
    data = write_rows(tmp_path / "d.jsonl", TINY_ROWS)
    dictionary = tmp_path / "en-es.tsv"
    dictionary.write_text("en\tes\ncat\tgato\nred\trojo\ndog\tperro\nblue\tazul\nhouse\tcasa\nwater\tagua\n"
                          "one\tuno\ntwo\tdos\nthree\ttres\nthe\tel\nthe\tla\n")
    run = semhub.analyze("logit-lens", backbone=bb, data=data, views=["en", "es"], paper=True, n_boot=0,
                         dictionary=dictionary)
    rec = run.results["logit_lens"][0]
    assert (rec["bos"], rec["sites"], rec["lens_norm"]) == (False, "words", False)
    from semhub.data.dictionary import load_dictionary

    translations = load_dictionary(dictionary).translations("es", "en")
    tok = bb.tokenizer
    native, dominant, n = paper_lens(bb, [b for _, b in TINY_ROWS], translations,
                                     lambda t: [m.span() for m in re.finditer(r"\w+", t)],
                                     lambda t: tok(t, add_special_tokens=False)["input_ids"])  # bare: not Llama 3
    assert rec["n_positions"] == n
    assert torch.allclose(torch.tensor(rec["native_logprob"]), native, atol=1e-4)
    assert torch.allclose(torch.tensor(rec["dominant_logprob"]), dominant, atol=1e-4)
    default = semhub.analyze("logit-lens", backbone=bb, data=data, views=["en", "es"], n_boot=0,
                             dictionary=dictionary).results["logit_lens"][0]
    assert (default["bos"], default["sites"], default["lens_norm"]) == (True, "substring", True)


def test_paper_glosses_are_bare_except_on_llama_3():
    """The paper's code adds a leading space to a gloss only when the model path names Llama 3."""
    from semhub.analyses.logit_lens import paper_gloss

    assert paper_gloss("meta-llama/Meta-Llama-3-8B", "cat") == " cat"
    assert paper_gloss("/models/llama3-instruct", "cat") == " cat"
    for name in ("meta-llama/Llama-2-7b-hf", "gemma3-270m", "Qwen/Qwen2-0.5B", "/models/tiny"):
        assert paper_gloss(name, "cat") == "cat"


def test_paper_conflicts_name_the_parameter(tmp_path):
    bb = tiny_backbone("llama")
    data = write_rows(tmp_path / "d.jsonl", TINY_ROWS)
    for keyword, value in (("lens_norm", True), ("pooling", "mean"), ("center", True), ("dtype", "bfloat16"),
                           ("template", None)):
        if value is None:
            continue
        with pytest.raises(ParameterError) as err:
            semhub.analyze("similarity", backbone=bb, data=data, views=["en", "es"], paper=True, **{keyword: value})
        assert err.value.parameter == keyword and "paper" in err.value.problem
    with pytest.raises(ParameterError) as err:
        semhub.analyze("logit-lens", backbone=bb, data=data, views=["en", "es"], paper=True, bos=True)
    assert err.value.parameter == "bos"
    with pytest.raises(ParameterError) as err:
        semhub.analyze("logit-lens", backbone=bb, data=data, views=["en", "es"], paper=True, sites="substring")
    assert err.value.parameter == "sites"
    # agreeing with --paper is not a conflict
    semhub.analyze("similarity", backbone=bb, data=data, views=["en", "es"], paper=True, pooling="last", n_boot=0)


def test_paper_conflicts_on_the_command_line(cli_run, tmp_path):
    data = write_rows(tmp_path / "d.jsonl", TINY_ROWS)
    code, _, err = cli_run("analyze", "--paper", "--lens-norm", "--analysis", "logit-lens", "--data", str(data),
                           "--views", "en,es", "--out", str(tmp_path / "run"))
    assert code == 2 and err.strip().splitlines() == [
        "Error: --lens-norm: given as True, but paper sets it to False for logit-lens: drop one of the two"]
    assert not (tmp_path / "run").exists()


def test_no_bos_drops_the_special_tokens(tmp_path):
    bb = tiny_backbone("llama")
    spoke = semhub.spoke_for_view("en")
    with_bos = spoke.encode(["the cat"], bb, None)
    with semhub.encoding(semhub.InputSettings(bos=False)):
        without = spoke.encode(["the cat"], bb, None)
    assert with_bos.inputs["input_ids"][0, 0] == bb.tokenizer.bos_token_id
    assert without.inputs["input_ids"][0].tolist() == with_bos.inputs["input_ids"][0, 1:].tolist()
    # a run without BOS: its last-token states differ from the run with it, and the manifest says so
    data = write_rows(tmp_path / "d.jsonl", TINY_ROWS)
    a = semhub.analyze("similarity", backbone=bb, data=data, views=["en", "es"], bos=False, n_boot=0)
    b = semhub.analyze("similarity", backbone=bb, data=data, views=["en", "es"], n_boot=0)
    assert a.manifest["options"]["bos"] is False and b.manifest["options"]["bos"] is True
    assert a.results["similarity"][0]["eq1"] != b.results["similarity"][0]["eq1"]


def test_templates_load_and_refuse_bad_files(tmp_path):
    from semhub.data.templates import PAPER, load_template

    assert load_template("paper") is PAPER
    assert PAPER.languages["en"].apply("It rains.") == "It rains.This represents"
    assert PAPER.languages["en"].apply('He said "go."') == 'He said "go."This represents'
    assert PAPER.languages["en"].apply("It rains") == "It rains"
    assert PAPER.languages["zh"].apply("下雨了。") == "下雨了。这代表了"
    bad = tmp_path / "bad.toml"
    bad.write_text("[en]\nsufix = 'x'\n")
    with pytest.raises(semhub.DataError, match=r"bad\.toml: \[en\]: unknown key 'sufix'"):
        load_template(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[en]\nsuffix = \n")
    with pytest.raises(semhub.DataError, match=r"broken\.toml:2: invalid TOML"):
        load_template(broken)
    with pytest.raises(ParameterError, match="neither a built-in template"):
        load_template(tmp_path / "missing.toml")


def test_cedict_is_read_as_the_paper_reads_it(tmp_path):
    from semhub.data.dictionary import load_dictionary

    path = tmp_path / "cedict_ts.u8"
    path.write_text("# CC-CEDICT\n#! url=https://www.mdbg.net/chinese/dictionary?page=cc-cedict\n"
                    "貓 猫 [mao1] /cat/CL:隻|只[zhi1]/\n"
                    "王 王 [Wang2] /surname Wang/\n"
                    "王 王 [wang2] /king/\n"
                    "吃 吃 [chi1] /to eat (food)/to consume/\n"
                    "橋 桥 [qiao2] /bridge/\n", encoding="utf-8")
    d = load_dictionary(path)
    assert d.languages == ("zh", "en")
    assert d.translations("zh", "en") == {"猫": ["cat"], "王": ["king"], "吃": ["to eat"], "桥": ["bridge"]}
    bad = tmp_path / "bad.u8"
    bad.write_text("貓 猫 [mao1] /cat/\nnot an entry\n", encoding="utf-8")
    with pytest.raises(semhub.DataError, match=r"bad\.u8:2: expected a CC-CEDICT entry"):
        load_dictionary(bad)


def test_jieba_words_are_the_sites_not_characters_inside_words():
    from semhub.analyses.logit_lens import whole_words

    text = "我爱不释手这本书，剑桥的草地很美。"
    # every character its own token (so any substring would be a one-token site)
    positions = {(i, i + 1): [i] for i in range(len(text))}
    translations = {"手": ["hand"], "桥": ["bridge"], "地": ["ground"], "美": ["beautiful"], "书": ["book"]}
    got = whole_words(text, "zh", positions, translations)
    assert got == [(15, "美")]  # 手, 桥, 地 sit inside 爱不释手, 剑桥, 草地; 书 inside 本书
    positions[(15, 16)] = [15, 16]  # two tokens with one word's span: the text is dropped
    assert whole_words(text, "zh", positions, translations) is None


# ---- the default model ----------------------------------------------------------------------


@pytest.mark.real_model
def test_paper_eq1_on_the_default_model(gemma):
    ds = semhub.dataset("multilingual", limit=30)  # an equality test: 30 sentences test it as strictly as 60
    run = semhub.analyze("similarity", backbone=gemma, data=ds, views=["en", "zh"], paper=True, n_boot=0)
    rec = run.results["similarity"][0]
    want = paper_eq1(gemma, [paper_augment(t, "en") for t in ds.columns["en"]],
                     [paper_augment(t, "zh") for t in ds.columns["zh"]])
    assert len(rec["eq1"]) == gemma.n_layers == len(want)
    assert float((torch.tensor(rec["eq1"]) - want).abs().max()) < 1e-4
    assert run.manifest["options"]["template"] == "paper" and run.manifest["options"]["dtype"] == "float32"


@pytest.mark.real_model
def test_paper_dictionary_lens_on_the_default_model(gemma):
    from semhub.data.segmentation import segment

    ds = semhub.dataset("multilingual", limit=30)
    run = semhub.analyze("logit-lens", backbone=gemma, data=ds, views=["en", "zh"], paper=True, n_boot=0)
    rec = run.results["logit_lens"][0]
    dictionary = next(d for d in semhub.data.dictionary.dictionaries() if set(d.languages) == {"en", "zh"})
    tok = gemma.tokenizer
    native, dominant, n = paper_lens(gemma, ds.columns["zh"], dictionary.translations("zh", "en"),
                                     lambda t: segment(t, "zh"),
                                     lambda t: tok(t, add_special_tokens=False)["input_ids"])  # bare: not Llama 3
    assert rec["n_positions"] == n > 20
    # log-probs reach -2000 under the raw lens: compare relative to their size
    for got, want in ((rec["native_logprob"], native), (rec["dominant_logprob"], dominant)):
        got = torch.tensor(got, dtype=torch.float64)
        assert float(((got - want.double()).abs() / want.double().abs().clamp(min=1)).max()) < 1e-4


def test_a_store_remembers_bos_and_the_template(tmp_path):
    """Resuming a store under another template or BOS setting would mix two inputs: refused."""
    bb = tiny_backbone("llama")
    data = write_rows(tmp_path / "d.jsonl", TINY_ROWS)
    template = tmp_path / "t.toml"
    template.write_text('[en]\nsuffix = " is big"\n')
    store = tmp_path / "store"
    semhub.analyze("similarity", backbone=bb, data=data, views=["en", "es"], n_boot=0, store=store,
                   template=str(template))
    for change in ({"template": None}, {"template": str(template), "bos": False}):
        with pytest.raises(semhub.SemhubError, match="made with other settings"):
            semhub.analyze("similarity", backbone=bb, data=data, views=["en", "es"], n_boot=0, store=store,
                           resume=True, **change)
    again = semhub.analyze("similarity", backbone=bb, data=data, views=["en", "es"], n_boot=0, store=store,
                           resume=True, template=str(template))
    assert again.results["similarity"][0]["n"] == len(TINY_ROWS)
