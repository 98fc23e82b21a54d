"""The optional extra 'clip' (open_clip_torch), tested for real in its own venv (`make test` builds
`.venv-extras` with a torch that has a matching torchvision and runs this file there): `semhub
convert-open-clip` on a randomly initialised open_clip ViT-B-32 checkpoint gives a transformers CLIP
whose image and text features equal open_clip's own, and whose tokenizer gives open_clip's ids.
In the main venv open_clip cannot import (PyPI's torchvision does not load beside a CPU torch
build), so there this file skips, saying so."""
from __future__ import annotations

import pytest
import torch

try:
    import open_clip
except Exception as exc:  # noqa: BLE001 - torchvision fails with OSError/RuntimeError beside a CPU-only torch
    pytest.skip(f"optional extra 'clip' (open_clip_torch) is not importable here: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:120]}; `make test` runs this file in .venv-extras",
                allow_module_level=True)

import semhub


def test_convert_open_clip_on_a_random_vit_b_32_equals_open_clips_own_features(tmp_path, cli_run):
    torch.manual_seed(0)
    source, _, _ = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    source.eval()
    checkpoint = tmp_path / "vit-b-32-random.pt"
    torch.save(source.state_dict(), checkpoint)
    out = tmp_path / "clip"
    code, stdout, err = cli_run("convert-open-clip", "--model", "ViT-B-32", "--pretrained", str(checkpoint),
                                "--out", str(out))
    assert code == 0, err
    bb = semhub.load(str(out))
    assert bb.family.name == "clip"
    hf = bb.model
    pixels = torch.randn(2, 3, 224, 224)
    texts = ["a photo of a cat", "two dogs running on the beach"]
    ids = open_clip.tokenize(texts)
    with torch.no_grad():
        torch.testing.assert_close(hf.get_image_features(pixel_values=pixels).pooler_output,
                                   source.encode_image(pixels), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(hf.get_text_features(input_ids=ids).pooler_output, source.encode_text(ids),
                                   atol=1e-4, rtol=1e-4)
    for text, row in zip(texts, ids):
        mine = bb.tokenizer(text)["input_ids"]
        assert mine == row[:len(mine)].tolist() and row[len(mine):].eq(0).all()
