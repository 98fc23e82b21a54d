"""BEATs and its Kaldi filterbank (tiny random models), and SALMONN with both of its encoders."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from semhub_audio.audio_io import read_audio
from semhub_audio.beats import BEATs, BEATsConfig, beats_state_dict, load_beats, relative_buckets
from semhub_audio.fbank import FbankOptions, kaldi_fbank, mel_banks

import semhub

TINY = dict(num_mel_bins=16, input_patch_size=8, embed_dim=12, encoder_layers=2, encoder_embed_dim=8,
            encoder_ffn_embed_dim=16, encoder_attention_heads=2, conv_pos=4, conv_pos_groups=2, num_buckets=16,
            max_distance=32)


def speech_clip() -> np.ndarray:
    return read_audio(semhub.dataset("speech").base_dir / "speech" / "en" / "01.ogg")


def noise(seconds: float = 1.3, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(16_000 * seconds)) * 0.1).astype(np.float32)


# ---- the filterbank -----------------------------------------------------------------------------

def knf_fbank(wave: np.ndarray, bins: int) -> np.ndarray:
    knf = pytest.importorskip("kaldi_native_fbank", reason="kaldi-native-fbank is in the test extra")
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.samp_freq = 16_000
    opts.mel_opts.num_bins = bins
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(16_000, wave.tolist())
    fb.input_finished()
    return np.stack([fb.get_frame(i) for i in range(fb.num_frames_ready)])


@pytest.mark.parametrize("bins", [23, 64, 80])
@pytest.mark.parametrize("source", ["speech", "noise"])
def test_fbank_equals_kaldi_native_fbank(bins, source):
    wave = (speech_clip() if source == "speech" else noise()) * 2 ** 15
    ref = knf_fbank(wave, bins)
    got = kaldi_fbank(torch.from_numpy(wave), FbankOptions(num_mel_bins=bins)).numpy()
    assert got.shape == ref.shape
    # float32 rounding grows under the log only where a band of near-silence has almost no energy
    # (log energy below 5 on the 16-bit scale, 10 below speech): exact elsewhere, close on average everywhere
    heard = ref > 5
    np.testing.assert_allclose(got[heard], ref[heard], atol=2e-3, rtol=0)
    assert heard.mean() > 0.5 and float(np.abs(got - ref).mean()) < 1e-4


def test_fbank_at_128_bins_keeps_kaldis_empty_filter_at_the_floor():
    """Kaldi refuses 128 bins on a 512-point FFT (filter 3 covers no FFT bin); torchaudio, which BEATs
    was trained on, keeps it as log(eps), and so does semhub."""
    banks = mel_banks(FbankOptions())
    assert banks.shape == (128, 257) and (banks.sum(1) == 0).nonzero().flatten().tolist() == [3]
    out = kaldi_fbank(torch.from_numpy(noise() * 2 ** 15))
    assert torch.all(out[:, 3] == math.log(torch.finfo(torch.float32).eps))
    assert torch.all(out[:, [0, 1, 2, 4, 127]] > math.log(torch.finfo(torch.float32).eps))


def test_fbank_against_torchaudio_where_it_imports():
    ta_kaldi = pytest.importorskip("torchaudio.compliance.kaldi",
                                   reason="torchaudio is optional and has no build matching this torch")
    wave = torch.from_numpy(speech_clip() * 2 ** 15)
    ref = ta_kaldi.fbank(wave[None], num_mel_bins=128, sample_frequency=16000, frame_length=25, frame_shift=10)
    got = kaldi_fbank(wave)
    # as against kaldi-native-fbank: torchaudio's own float32 result is 0.025 from its float64 one in the
    # near-silent bands (log energy below 5), so those are held to the mean; exact elsewhere
    heard = ref > 5
    torch.testing.assert_close(got[heard], ref[heard], atol=2e-3, rtol=0)
    assert float(heard.float().mean()) > 0.5 and float((got - ref).abs().mean()) < 1e-4


def test_fbank_batches_equal_clips_one_by_one_and_refuses_short_clips():
    waves = torch.from_numpy(np.stack([noise(1.0, s) for s in range(3)]) * 2 ** 15)
    batched = kaldi_fbank(waves, FbankOptions(num_mel_bins=40))
    for i in range(3):
        torch.testing.assert_close(batched[i], kaldi_fbank(waves[i], FbankOptions(num_mel_bins=40)))
    assert batched.shape == (3, 98, 40)  # 1 + (16000 - 400) // 160
    with pytest.raises(ValueError, match="shorter than one 400-sample frame"):
        kaldi_fbank(torch.zeros(399))


# ---- BEATs ---------------------------------------------------------------------------------------

def test_relative_buckets_follow_the_t5_scheme():
    b = relative_buckets(2000, num_buckets=320, max_distance=800)
    assert torch.all(b.diagonal() == 0)
    row = b[1000]  # query 1000: keys before it in 0..159, after it in 160..319
    assert row[1000 - 5] == 5 and row[1000 + 5] == 165  # exact below 80
    assert row[1000 - 80] == 80  # log-spaced from 80: 80 + log(d / 80) / log(800 / 80) * 80
    assert row[1000 - 253] == 80 + int(math.log(253 / 80) / math.log(10) * 80)
    assert row[1000 - 800] == 159 and row[0] == 159  # at and beyond max_distance: the last bucket
    before = row[:1000].flip(0)
    assert torch.all(before[1:] >= before[:-1])  # farther never maps to a nearer bucket


def tiny_beats(seed: int = 0) -> BEATs:
    torch.manual_seed(seed)
    model = BEATs(BEATsConfig(**TINY)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def test_beats_shapes_follow_the_patch_grid():
    model = tiny_beats()
    wave = torch.from_numpy(noise(1.3))[None]
    frames = 1 + (wave.shape[1] - 400) // 160
    with torch.no_grad():
        out = model(wave)
    assert out.shape == (1, (frames // 8) * (16 // 8), 8)
    assert torch.isfinite(out).all()
    with torch.no_grad():  # a longer clip: more patches, the first ones' filterbank unchanged
        longer = model(torch.from_numpy(noise(2.0))[None])
    assert longer.shape[1] > out.shape[1]


def published_layout(model: BEATs) -> dict:
    """A checkpoint as microsoft/unilm writes it: weight-normed position conv, the bias table in every
    layer, an AudioSet classifier."""
    c = model.config
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    d = c.encoder_embed_dim
    conv = torch.nn.Conv1d(d, d, c.conv_pos, padding=c.conv_pos // 2, groups=c.conv_pos_groups)
    conv.weight.data.copy_(sd.pop("encoder.pos_conv.weight"))
    conv = torch.nn.utils.weight_norm(conv, name="weight", dim=2)
    sd["encoder.pos_conv.0.weight_g"] = conv.weight_g.detach().clone()
    sd["encoder.pos_conv.0.weight_v"] = conv.weight_v.detach().clone() * 3.0  # the norm divides the scale out
    sd["encoder.pos_conv.0.bias"] = sd.pop("encoder.pos_conv.bias")
    table = sd.pop("encoder.relative_attention_bias.weight")
    for i in range(c.encoder_layers):
        sd[f"encoder.layers.{i}.self_attn.relative_attention_bias.weight"] = table.clone()
    sd["predictor.weight"], sd["predictor.bias"] = torch.randn(527, d), torch.zeros(527)
    cfg = c.architecture()
    cfg.update(finetuned_model=True, predictor_class=527, dropout=0.1, layer_wise_gradient_decay_ratio=1.0)
    return {"cfg": cfg, "model": sd}


def test_published_checkpoint_loads_with_weights_only(tmp_path):
    source = tiny_beats()
    path = tmp_path / "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt"
    torch.save(published_layout(source), path)
    loaded = load_beats(path)
    wave = torch.from_numpy(noise(1.1))[None]
    with torch.no_grad():
        torch.testing.assert_close(loaded(wave), source(wave), atol=1e-5, rtol=1e-5)
    assert "predictor.weight" not in beats_state_dict(published_layout(source)["model"])
    # the same weights saved by a BEATs built with torch's newer weight-norm parametrization
    layout = published_layout(source)
    sd = layout["model"]
    sd["encoder.pos_conv.0.parametrizations.weight.original0"] = sd.pop("encoder.pos_conv.0.weight_g")
    sd["encoder.pos_conv.0.parametrizations.weight.original1"] = sd.pop("encoder.pos_conv.0.weight_v")
    torch.save(layout, path)
    with torch.no_grad():
        torch.testing.assert_close(load_beats(path)(wave), source(wave), atol=1e-5, rtol=1e-5)


def test_bad_beats_checkpoints_are_one_line_naming_the_file(tmp_path):
    import collections

    bad = tmp_path / "pickled.pt"
    torch.save({"cfg": collections.OrderedDict(a=1), "model": {}, "x": np.float64(1)}, bad)  # a numpy global
    with pytest.raises(semhub.SemhubError, match=r"pickled.pt: not a loadable BEATs checkpoint \(.*GLOBAL"):
        load_beats(bad)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(semhub.SemhubError, match="garbage.pt: not a loadable BEATs checkpoint"):
        load_beats(garbage)
    wrong = tmp_path / "wrong.pt"
    layout = published_layout(tiny_beats())
    layout["cfg"]["encoder_layers"] = 3
    torch.save(layout, wrong)
    with pytest.raises(semhub.SemhubError, match="wrong.pt: BEATs weights do not fit its cfg"):
        load_beats(wrong)


def test_resampling_equals_torchaudio_on_band_limited_audio(tmp_path):
    """read_audio resamples with scipy's polyphase filter (no torchaudio needed); on audio below the
    filters' cut-off it gives torchaudio's samples. Near Nyquist the two anti-alias filters differ by
    design (Kaiser-windowed FIR vs windowed sinc), so the signal stays under 0.9 x the old Nyquist."""
    torchaudio = pytest.importorskip("torchaudio", reason="torchaudio is optional and has no build matching this torch")
    import soundfile as sf

    from semhub_audio.audio_io import read_audio

    rng = np.random.default_rng(0)
    for source in (8_000, 22_050, 44_100):
        t = np.arange(int(source * 1.5)) / source
        freqs = rng.uniform(50, 0.45 * min(source, 16_000) * 0.9, size=12)
        wave = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) for f in freqs) / 12
        path = tmp_path / f"tone{source}.wav"
        sf.write(path, wave.astype(np.float32), source, subtype="FLOAT")
        ours = torch.from_numpy(read_audio(path))
        theirs = torchaudio.functional.resample(torch.from_numpy(wave.astype(np.float32)), source, 16_000)
        n = min(len(ours), len(theirs))
        inner = slice(200, n - 200)  # the filters' edges differ; compare the interior
        err = float((ours[inner] - theirs[inner]).abs().max()) / float(theirs[inner].abs().max())
        assert len(ours) == len(theirs) and err < 0.02, (source, err)
