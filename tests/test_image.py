"""The image spoke on tiny random models of every vision family, and image file handling.

No vision-language or CLIP weights exist offline, so every family is tested from its registry
``[tiny]`` config with the processor a hub checkpoint ships (PIL image processors, no torchvision).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from image_models import VISION_LLMS, save_tiny, vision_backbone
from semhub.readout.capture import capture, pool
from semhub.backbone.convention import run_layers
from semhub_image import DATA, ImageSpoke
from semhub_image.image_io import read_image

PHOTOS = ["photos/chelsea.jpg", "photos/rocket.jpg", "photos/text.jpg"]


# ---- reading files ---------------------------------------------------------------------------

def test_modes_formats_and_exif_orientation(tmp_path):
    base = Image.new("RGB", (40, 20), (200, 10, 10))
    base.paste((10, 10, 200), (0, 0, 20, 20))  # left half blue
    for fmt, ext in [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp")]:
        base.save(tmp_path / f"x.{ext}", fmt)
        img = read_image(tmp_path / f"x.{ext}")
        assert img.mode == "RGB" and img.size == (40, 20)
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))  # fully transparent -> white
    rgba.save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png").getpixel((3, 3)) == (255, 255, 255)
    Image.new("I;16", (8, 8), 4000).save(tmp_path / "deep.png")
    assert read_image(tmp_path / "deep.png").mode == "RGB"
    Image.new("L", (8, 8), 90).save(tmp_path / "grey.png")
    assert read_image(tmp_path / "grey.png").getpixel((0, 0)) == (90, 90, 90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view"
    base.save(tmp_path / "turned.jpg", exif=exif)
    turned = read_image(tmp_path / "turned.jpg")
    assert turned.size == (20, 40)  # shown upright: width and height swap
    r, g, b = turned.getpixel((10, 5))  # the blue left half is now on top
    assert b > 150 and r < 80


@pytest.mark.parametrize("make,reason", [
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20), "cannot read image"),
    (lambda p: p.write_text("a text file, not an image\n"), "cannot read image"),
    (lambda p: p.write_bytes(Path(DATA / "photos" / "chelsea.jpg").read_bytes()[:600]), "cannot read image"),
    (lambda p: p.write_bytes(b""), "cannot read image"),
])
def test_bad_images_give_one_line_naming_the_file(tmp_path, make, reason):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(ValueError) as err:
        read_image(path)
    msg = str(err.value)
    assert reason in msg and "bad.png" in msg and "\n" not in msg


def test_cli_reports_bad_image_with_file_and_line(tmp_path, cli_run):
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    data = tmp_path / "pics.jsonl"
    data.write_text(json.dumps({"image": "ok.png", "en": "the cat"}) + "\n"
                    + json.dumps({"image": "broken.jpg", "en": "a dog"}) + "\n"
                    + json.dumps({"image": "missing.png", "en": "a dog"}) + "\n")
    code, _, err = cli_run("analyze", "--modality", "image", "--model", "x", "--data", str(data),
                           "--out", str(tmp_path / "run"))
    assert code == 2 and err.strip().count("\n") == 0
    assert "pics.jsonl:2" in err and "cannot read image broken.jpg" in err
    assert not (tmp_path / "run").exists()


def test_no_vision_model_lists_families_and_the_command(cli_run, tmp_path):
    code, _, err = cli_run("analyze", "--modality", "image", "--out", str(tmp_path / "run"))
    assert code == 2 and err.strip().count("\n") == 0
    for family in ("llava", "llava_next", "chameleon", "gemma3", "qwen2_vl", "clip"):
        assert family in err
    assert "semhub analyze --modality image --model llava-hf/llava-1.5-7b-hf" in err
    assert not (tmp_path / "run").exists()


# ---- every vision family: positions, capture, steering ----------------------------------------

@pytest.mark.parametrize("name", VISION_LLMS)
def test_image_positions_are_exactly_where_the_processor_put_them(name):
    bb = vision_backbone(name)
    enc = ImageSpoke().encode(PHOTOS, bb, DATA)
    placeholder = bb.placeholder_id("image")
    ids = enc.inputs["input_ids"]
    assert bool((ids[enc.groups["content"]] == placeholder).all())
    assert int((ids == placeholder).sum()) == int(enc.groups["content"].sum())
    # the same count the processor expands a lone image to, for every item of a padded batch
    for k, path in enumerate(PHOTOS):
        one = ImageSpoke().encode([path], bb, DATA)
        assert int(one.groups["content"].sum()) == int(enc.groups["content"][k].sum())
    for k, (rows, cols) in enumerate(enc.meta["grid"]):
        assert int(enc.groups["grid"][k].sum()) == rows * cols
        assert bool((enc.groups["grid"][k] <= enc.groups["content"][k]).all())


@pytest.mark.parametrize("name", VISION_LLMS)
def test_caption_in_the_prompt_gets_its_own_group(name):
    bb = vision_backbone(name)
    captions = ["the cat sat on the mat", "a big red house", "the sun"]
    enc = ImageSpoke().encode(PHOTOS, bb, DATA, texts=captions)
    ids = enc.inputs["input_ids"]
    for k, caption in enumerate(captions):
        assert bb.tokenizer.decode(ids[k][enc.groups["text"][k]]).split() == caption.split()
    assert not bool((enc.groups["text"] & enc.groups["content"]).any())


def test_grids_follow_each_family_layout():
    grids = {name: ImageSpoke().encode(PHOTOS, vision_backbone(name), DATA).meta["grid"] for name in VISION_LLMS}
    assert grids["llava"] == [(5, 5)] * 3  # 30 px / 6 px patches, CLS dropped
    assert grids["llava_next"] == [(5, 5)] * 3  # the base view
    assert grids["chameleon"] == [(4, 4)] * 3  # 32 px through three 2x down-samplings
    assert grids["gemma3"] == [(2, 2)] * 3  # 4 pooled soft tokens
    sizes = [Image.open(DATA / p).size for p in PHOTOS]  # Qwen2-VL keeps the aspect ratio
    for (rows, cols), (w, h) in zip(grids["qwen2_vl"], sizes):
        assert (rows > cols) == (h > w) and abs(rows / cols - h / w) < 0.5


@pytest.mark.parametrize("name", VISION_LLMS)
def test_capture_matches_hf_hidden_states(name):
    bb = vision_backbone(name)
    rows = []
    for path in PHOTOS:  # unbatched reference through HF's own forward
        one = ImageSpoke().encode([path], bb, DATA)
        with torch.no_grad():
            hs = bb.model(**one.inputs, output_hidden_states=True).hidden_states
        rows.append(torch.stack([pool(h, one.groups["content"], "mean")[0] for h in hs]))
    enc = ImageSpoke().encode(PHOTOS, bb, DATA)  # batched and padded
    got = capture(bb, [enc], final_norm=True)
    torch.testing.assert_close(got, torch.stack(rows), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", VISION_LLMS + ["clip", "dinov2"])
def test_steering_image_positions_changes_only_those_residuals(name):
    from semhub import steer_hooks as steer

    bb = vision_backbone(name)
    enc = ImageSpoke().encode(PHOTOS[:2], bb, DATA)
    states = {}

    def grab(key):
        def on_layer(_layer, hidden, _batch):
            states[key] = hidden.clone()
        return on_layer

    run_layers(bb, [enc], [1], grab("plain"))
    with steer(bb, torch.randn(bb.d_model), layers=1, coeff=3.0, positions=enc.groups["content"]):
        run_layers(bb, [enc], [1], grab("steered"))
    delta = (states["steered"] - states["plain"]).norm(dim=-1)
    mask = enc.groups["content"]
    assert bool((delta[mask] > 1.0).all())
    assert float(delta[~mask].abs().max()) == 0.0


def test_chameleon_lens_leaves_out_image_codes():
    import semhub

    bb = vision_backbone("chameleon")
    excluded = bb.excluded_token_ids
    assert set(range(99, 111)) <= set(excluded)  # the 12 VQ codes
    assert 97 in excluded and 5 not in excluded  # <image> (an added token) is out, words stay in
    lens = semhub.Lens(bb)
    h = torch.randn(6, bb.d_model)
    scan = lens.scan(h, k=5)
    assert not set(scan.top_ids.flatten().tolist()) & set(excluded)
    keep = torch.tensor([i for i in range(lens.vocab_size) if i not in set(excluded)])
    logits = h @ lens.weight[keep].T
    torch.testing.assert_close(scan.log_norm, torch.logsumexp(logits, -1))


def test_clip_reads_images_and_text_on_their_own_towers():
    import semhub
    from semhub.readout.capture import capture

    bb = vision_backbone("clip")
    assert bb.stack == "vision" and bb.for_input("text").stack == "text"
    enc = ImageSpoke().encode(PHOTOS, bb, DATA)
    assert enc.groups["cls"].sum(1).tolist() == [1, 1, 1] and enc.groups["content"].sum(1).tolist() == [25] * 3
    with torch.no_grad():
        ref = bb.model.vision_model(**enc.inputs, output_hidden_states=True)
        want_embeds = bb.model.get_image_features(**enc.inputs)
    got = capture(bb, [enc], pooling="last", group="cls")
    want = torch.stack([h[:, 0] for h in ref.hidden_states], 1)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # the joint-space projection of the last layer is CLIP's own image embedding
    from semhub_image.joint import projected

    ds = semhub.dataset("images").head(3)
    ds.columns["image"] = PHOTOS  # the images embedded above
    ctx = semhub.make_context(bb, ds, ["image", "en"], modality="image")
    joint = projected(bb, ctx, "image", "cls")
    want_embeds = getattr(want_embeds, "pooler_output", want_embeds)
    torch.testing.assert_close(joint[:, -1], torch.nn.functional.normalize(want_embeds, dim=-1), atol=1e-5, rtol=1e-5)


def test_joint_alignment_on_tiny_clip():
    import semhub
    from semhub_image.joint import JointAlignmentAnalysis

    bb = vision_backbone("clip")
    ctx = semhub.make_context(bb, semhub.dataset("images", limit=6), ["image", "en"], modality="image")
    result = JointAlignmentAnalysis().run(ctx)
    image_rec, text_rec = result.records
    assert len(image_rec["x"]) == 4 and len(text_rec["x"]) == 3  # 3 vision blocks + embeddings, 2 text + 1
    for rec in result.records:
        assert all(0.0 <= v <= 1.0 for v in rec["series"]["retrieval@1"])
        assert all(-1.0 <= v <= 1.0 for v in rec["series"]["matched"])


def test_generic_similarity_on_a_dual_encoder_points_to_joint_alignment():
    import semhub

    bb = vision_backbone("clip")
    with pytest.raises(semhub.SemhubError, match="joint-alignment"):
        semhub.analyze("similarity", backbone=bb, data="images", views=["image", "en"], modality="image", limit=4, n_boot=0)


# ---- the paper's vision experiments ----------------------------------------------------------

def test_patch_labels_follow_the_processor_geometry():
    from semhub_image.patches import patch_labels

    row = json.loads((DATA / "scenes.jsonl").read_text().splitlines()[0])
    for name, grid in [("llava", (5, 5)), ("chameleon", (4, 4)), ("gemma3", (2, 2))]:
        labels = patch_labels(vision_backbone(name), DATA, row["image"], row["mask"], grid).reshape(grid)
        rows, cols = grid
        # the scene is a 2 x 2 collage: class 1 top-left, 2 top-right, 3 bottom-left; 4 (a horse silhouette) sparse
        assert labels[0, 0] == 1 and labels[0, cols - 1] == 2 and labels[rows - 1, 0] == 3
    labels = patch_labels(vision_backbone("qwen2_vl"), DATA, row["image"], row["mask"], (4, 4)).reshape(4, 4)
    assert labels[:2, :2].tolist() == [[1, 1], [1, 1]] and labels[:2, 2:].tolist() == [[2, 2], [2, 2]]


@pytest.mark.parametrize("name", VISION_LLMS)
def test_lenses_run_on_every_vision_llm(name):
    import semhub
    from semhub_image.lenses import CaptionLensAnalysis, ColourLensAnalysis, SegmentationLensAnalysis

    bb = vision_backbone(name)
    for analysis, data in [(ColourLensAnalysis(), "colours"), (CaptionLensAnalysis(), "images"),
                           (SegmentationLensAnalysis(), "scenes")]:
        ctx = semhub.make_context(bb, semhub.dataset(data, limit=4), ["image", "en"], modality="image")
        (rec,) = analysis.run(ctx).records
        assert rec["x"] == list(range(bb.n_layers + 1))
        for values in rec["series"].values():
            assert len(values) == bb.n_layers + 1 and all(np.isfinite(values)) and min(values) >= 0


def test_colour_lens_counts_top1_hits():
    """A head whose bias makes ' red' the top-1 everywhere: the red image hits at every position and layer."""
    import semhub
    from semhub_image.lenses import ColourLensAnalysis

    bb = vision_backbone("llava")
    red = semhub.word_token_ids(bb, ["red"])[0]
    head = torch.nn.Linear(bb.d_model, 99)
    with torch.no_grad():
        head.weight.copy_(bb.model.lm_head.weight)
        head.bias.zero_()
        head.bias[red] = 1e4
    bb.model.lm_head = head
    ctx = semhub.make_context(bb, semhub.dataset("colours"), ["image", "en"], modality="image")
    series = ColourLensAnalysis().run(ctx).records[0]["series"]
    share = 100 * list(ctx.dataset.columns["colour"]).count("red") / len(ctx.dataset)
    assert series["corresponding colour"] == pytest.approx([share] * (bb.n_layers + 1))
    assert series["'white'"] == [0.0] * (bb.n_layers + 1)


def test_caption_lens_baseline_is_the_least_overlapping_caption():
    from semhub_image.lenses import least_overlap

    caps = ["a red cat", "a red dog", "the blue sky", "a cat and a dog"]
    assert least_overlap(caps) == [2, 2, 0, 2]


def test_caption_lens_without_a_nouns_column_uses_content_words(tmp_path):
    import semhub
    from semhub_image.lenses import CaptionLensAnalysis
    from semhub_image.lenses import content_words

    assert content_words("A cat sat on the red mat, near two dogs.") == ["cat", "sat", "red", "mat", "dogs"]
    rows = [json.loads(line) for line in (DATA / "images.jsonl").read_text().splitlines()[:3]]
    data = tmp_path / "captions.jsonl"  # a user's file: image and caption only
    data.write_text("".join(json.dumps({"image": str(DATA / r["image"]), "en": r["en"]}) + "\n" for r in rows))
    bb = vision_backbone("llava")
    with semhub.allow_outside_paths():  # the rows point at the built-in images by absolute path
        ctx = semhub.make_context(bb, str(data), ["image", "en"], modality="image")
    (rec,) = CaptionLensAnalysis().run(ctx).records
    assert all(v > 0 for v in rec["series"]["matching caption"])


def test_two_colour_parse():
    from semhub_image.lenses import two_colours

    palette = {"red", "green", "blue", "black"}
    assert two_colours(" The colors are red and blue. Red is on top", palette) == {"red", "blue"}
    assert two_colours("red and blue, or green and black.", palette) is None  # two matches: rejected
    assert two_colours("I see a cat and a dog.", palette) is None


@pytest.mark.parametrize("name", ["chameleon", "llava"])
def test_colour_edit_replaces_half_the_image(name):
    import semhub
    from semhub_image.lenses import ColourEditAnalysis
    from semhub_image.lenses import greedy_answer

    bb = vision_backbone(name)
    ctx = semhub.make_context(bb, semhub.dataset("colour-halves", limit=2), ["image", "en"], modality="image",
                              layers="0-3")
    analysis = ColourEditAnalysis()
    analysis.max_new_tokens = 3
    (rec,) = analysis.run(ctx).records
    assert rec["x"] == [1, 2, 3] and rec["cases"] == 2 * 2 * 2  # 2 images x 2 sides x 2 new colours
    assert all(0 <= v <= 100 for v in rec["series"]["accuracy"])
    assert rec["examples"] and all(e["old"] != e["new"] for e in rec["examples"])
    enc = semhub.spoke_for_view("image").encode([rec["examples"][0]["image"]], bb, ctx.dataset.base_dir,
                                                question=analysis.question)
    plain = greedy_answer(bb, enc, analysis.max_new_tokens)
    assert any(e["answer"] != plain for e in rec["examples"])  # the edit reaches the output


# ---- end to end through the CLI on saved tiny models ------------------------------------------

@pytest.mark.parametrize("name", VISION_LLMS + ["clip"])
def test_analyze_end_to_end_on_a_saved_tiny_model(name, tmp_path, cli_run):
    model_dir = tmp_path / f"tiny-{name}"
    save_tiny(name, model_dir)
    analysis = "joint-alignment" if name == "clip" else "similarity"
    out = tmp_path / "run"
    code, _, err = cli_run("analyze", "--modality", "image", "--model", str(model_dir), "--analysis", analysis,
                           "--limit", "5", "--bootstrap", "10", "--out", str(out))
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["family"] == name
    assert manifest["options"]["views"] == ["en", "image"]  # the dominant language first, as for every spoke
    result = json.loads((out / "results.json").read_text())
    assert result and (out / f"{analysis.replace('-', '_')}.png").stat().st_size > 1000


# ---- open_clip (optional extra) ----------------------------------------------------------------

def open_clip_layout(hf) -> dict[str, torch.Tensor]:
    """A CLIPModel's weights in open_clip's naming (fused q/k/v, projections as matrices)."""
    sd = hf.state_dict()
    out = {"visual.conv1.weight": sd["vision_model.embeddings.patch_embedding.weight"],
           "visual.class_embedding": sd["vision_model.embeddings.class_embedding"],
           "visual.positional_embedding": sd["vision_model.embeddings.position_embedding.weight"],
           "visual.proj": sd["visual_projection.weight"].T, "text_projection": sd["text_projection.weight"].T,
           "token_embedding.weight": sd["text_model.embeddings.token_embedding.weight"],
           "positional_embedding": sd["text_model.embeddings.position_embedding.weight"],
           "logit_scale": sd["logit_scale"]}
    for a, b in (("visual.ln_pre", "vision_model.pre_layrnorm"), ("visual.ln_post", "vision_model.post_layernorm"),
                 ("ln_final", "text_model.final_layer_norm")):
        out[f"{a}.weight"], out[f"{a}.bias"] = sd[f"{b}.weight"], sd[f"{b}.bias"]
    for prefix, src, n in (("visual.transformer.resblocks", "vision_model.encoder.layers", 3),
                           ("transformer.resblocks", "text_model.encoder.layers", 2)):
        for i in range(n):
            s, d = f"{src}.{i}", f"{prefix}.{i}"
            out[f"{d}.attn.in_proj_weight"] = torch.cat([sd[f"{s}.self_attn.{p}_proj.weight"] for p in "qkv"])
            out[f"{d}.attn.in_proj_bias"] = torch.cat([sd[f"{s}.self_attn.{p}_proj.bias"] for p in "qkv"])
            for a, b in (("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"),
                         ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")):
                out[f"{d}.{a}.weight"], out[f"{d}.{a}.bias"] = sd[f"{s}.{b}.weight"], sd[f"{s}.{b}.bias"]
    return out


def test_open_clip_weights_map_onto_transformers_clip():
    from semhub_image.open_clip_convert import hf_state_dict

    source = vision_backbone("clip", seed=1).model
    target = vision_backbone("clip", seed=2).model
    missing, unexpected = target.load_state_dict(hf_state_dict(open_clip_layout(source)), strict=False)
    assert not unexpected and all(k.endswith("position_ids") for k in missing)
    pixels = torch.randn(2, 3, 30, 30)
    ids = torch.tensor([[1, 5, 6, 2], [1, 7, 2, 0]])
    with torch.no_grad():
        torch.testing.assert_close(source.get_image_features(pixel_values=pixels).pooler_output,
                                   target.get_image_features(pixel_values=pixels).pooler_output)
        torch.testing.assert_close(source.get_text_features(input_ids=ids).pooler_output,
                                   target.get_text_features(input_ids=ids).pooler_output)


def test_open_clip_model_converts_and_matches_its_own_features(tmp_path):
    try:
        import open_clip
    except Exception as exc:  # noqa: BLE001 - torchvision fails with OSError/RuntimeError on CPU-only torch
        pytest.skip(f"optional extra 'clip' (open_clip_torch) is not importable: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:120]} (it imports torchvision, whose PyPI wheels need CUDA "
                    "libraries a CPU-only torch lacks)")
    from semhub_image.open_clip_convert import clip_config, hf_state_dict
    from transformers import CLIPModel

    cfg = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
           "text_cfg": {"context_length": 16, "vocab_size": 99, "width": 64, "heads": 2, "layers": 2}}
    oc = open_clip.CLIP(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"]).eval()
    hf = CLIPModel(clip_config(cfg, quick_gelu=False)).eval()
    hf.load_state_dict(hf_state_dict(oc.state_dict()), strict=False)
    pixels, ids = torch.randn(2, 3, 32, 32), torch.randint(3, 90, (2, 16))
    ids[:, -1] = 98  # open_clip pools the highest id (its end-of-text token)
    with torch.no_grad():
        torch.testing.assert_close(hf.get_image_features(pixel_values=pixels).pooler_output, oc.encode_image(pixels),
                                   atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(hf.get_text_features(input_ids=ids).pooler_output, oc.encode_text(ids),
                                   atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("preset,key", [("vision-similarity", "similarity"), ("vision-colour-lens", "colour_lens"),
                                        ("vision-caption-lens", "caption_lens"),
                                        ("vision-segmentation-lens", "segmentation_lens"),
                                        ("vision-colour-edit", "colour_edit")])
def test_paper_presets_run_on_a_saved_tiny_chameleon(preset, key, tmp_path, cli_run):
    model_dir = tmp_path / "tiny-chameleon"
    save_tiny("chameleon", model_dir)
    out = tmp_path / "run"
    code, _, err = cli_run("reproduce", preset, "--model", str(model_dir), "--limit", "3", "--out", str(out))
    assert code == 0, err
    result = json.loads((out / "results.json").read_text())[key]
    assert result and any(p.suffix == ".png" and p.stat().st_size > 1000 for p in out.iterdir())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["family"] == "chameleon" and manifest["data"]["rows"] == 3
