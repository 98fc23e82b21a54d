"""--data hf:... and the FLEURS / FLORES+ recipes, on tiny datasets built here in the hub's layouts
and read through the `datasets` library (no network: HF_HUB_OFFLINE=1, as the Makefile sets)."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import semhub
from semhub.data.hf_datasets import HubSpec, HubTable

datasets = pytest.importorskip("datasets", reason="datasets is a core dependency; this guards a broken install")

SENTENCES = {  # FLORES ids -> the sentence per language (tiny, written for the test)
    3: {"en": "the cat sat", "es": "el gato", "zh": "猫坐着", "sw": "paka aliketi"},
    7: {"en": "the dog runs", "es": "el perro", "zh": "狗跑", "sw": "mbwa anakimbia"},
    12: {"en": "red house", "es": "casa roja", "zh": "红房子", "sw": "nyumba nyekundu"},
    20: {"en": "blue river", "es": "rio azul", "zh": "蓝河", "sw": "mto wa bluu"},
}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMHUB_CACHE_DIR", str(tmp_path / "cache"))


def wav_bytes(freq: float, seconds: float = 0.4) -> bytes:
    t = np.arange(int(16_000 * seconds)) / 16_000
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 16_000, format="WAV")
    return buf.getvalue()


def fleurs_copy(root, langs=("en_us", "es_419"), split="test"):
    """google/fleurs' parquet export: CONFIG/SPLIT/0000.parquet, two recordings of some ids, one id
    missing in Spanish (a join keeps only shared ids)."""
    features = datasets.Features({
        "id": datasets.Value("int32"), "num_samples": datasets.Value("int32"), "path": datasets.Value("string"),
        "audio": datasets.Audio(sampling_rate=16_000), "transcription": datasets.Value("string"),
        "raw_transcription": datasets.Value("string"), "gender": datasets.Value("int64"),
        "lang_id": datasets.Value("int64"), "language": datasets.Value("string"),
        "lang_group_id": datasets.Value("int64")})
    recordings = {}
    for k, config in enumerate(langs):
        lang = config.split("_")[0]
        ids = [i for i in SENTENCES if not (lang == "es" and i == 20)]
        rows = {name: [] for name in features}
        for i in ids + ids[:2]:  # a second speaker for the first two sentences
            take = len([r for r in rows["id"] if r == i])
            audio = wav_bytes(200 + 50 * i + 500 * k + 7 * take)
            recordings.setdefault((lang, i), audio)
            rows["id"].append(i)
            rows["num_samples"].append(6400)
            rows["path"].append(f"{i}-{take}.wav")
            rows["audio"].append({"bytes": audio, "path": f"{i}-{take}.wav"})
            rows["transcription"].append(SENTENCES[i][lang])
            rows["raw_transcription"].append(SENTENCES[i][lang].capitalize() + ".")
            rows["gender"].append(take)
            rows["lang_id"].append(k)
            rows["language"].append(lang)
            rows["lang_group_id"].append(0)
        out = root / config / split
        out.mkdir(parents=True)
        write_parquet(out / "0000.parquet", rows, features)
    return recordings


def write_parquet(path, rows: dict, features) -> None:
    """Parquet as the hub writes it: the columns, and the ``datasets`` features in the schema's metadata
    (written with pyarrow: ``datasets`` itself wants torchcodec to encode audio, even as bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(rows).replace_schema_metadata(
        {"huggingface": json.dumps({"info": {"features": features.to_dict()}})})
    pq.write_table(table, str(path))


def flores_copy(root, langs=("eng_Latn", "cmn_Hans", "swh_Latn")):
    """A clone of openlanguagedata/flores_plus: dev/ and devtest/ parquet per language, README configs."""
    codes = {"eng_Latn": "en", "cmn_Hans": "zh", "swh_Latn": "sw"}
    yaml = ["---", "configs:"]
    for config in langs:
        yaml += [f"- config_name: {config}", "  data_files:"]
        for split in ("dev", "devtest"):
            yaml += [f"  - split: {split}", f"    path: {split}/{config}.parquet"]
            ids = sorted(SENTENCES, reverse=True)  # stored out of order: the join sorts by id
            if config == "swh_Latn":
                ids = ids[1:]  # 20 missing in Swahili
            rows = {"id": ids, "iso_639_3": [config[:3]] * len(ids), "iso_15924": [config[4:]] * len(ids),
                    "glottocode": ["x"] * len(ids), "text": [f"{SENTENCES[i][codes[config]]} ({split})" for i in ids],
                    "url": [""] * len(ids), "domain": ["wikinews"] * len(ids), "topic": ["t"] * len(ids),
                    "has_image": [0] * len(ids), "has_hyperlink": [0] * len(ids)}
            (root / split).mkdir(parents=True, exist_ok=True)
            datasets.Dataset.from_dict(rows).to_parquet(str(root / split / f"{config}.parquet"))
    (root / "README.md").write_text("\n".join(yaml + ["---", "# a tiny FLORES+ layout"]) + "\n")


def test_hub_specs_parse_and_bad_ones_name_the_flag():
    spec = HubSpec.parse("hf:openlanguagedata/flores_plus:eng_Latn@devtest#en=text,id=id")
    assert spec.table == HubTable("openlanguagedata/flores_plus", "eng_Latn", "devtest")
    assert spec.columns == {"en": "text"} and spec.id_column == "id"
    assert HubSpec.parse("hf:some/data").table == HubTable("some/data")
    for bad in ("hf:", "hf:a/b@", "hf:a/b:", "hf:a/b#en", "hf:a/b#=x"):
        with pytest.raises(semhub.ParameterError, match="data: .*hf:"):
            HubSpec.parse(bad)


def test_fleurs_recipe_joins_languages_on_the_sentence_id(tmp_path, monkeypatch):
    recordings = fleurs_copy(tmp_path / "fleurs")
    monkeypatch.setenv("SEMHUB_FLEURS", str(tmp_path / "fleurs"))
    ds = semhub.dataset("fleurs", views=["audio_en", "audio_es", "es"])
    assert ds.ids == ["3", "7", "12"]  # 20 has no Spanish recording
    for row, ident in enumerate(ds.ids):
        for lang in ("en", "es"):  # the first recording of each sentence, as a file the spoke reads
            path = ds.base_dir / ds.columns[f"audio_{lang}"][row]
            assert path.read_bytes() == recordings[(lang, int(ident))]
        assert ds.columns["es"][row] == SENTENCES[int(ident)]["es"].capitalize() + "."
    again = semhub.dataset("fleurs", views=["audio_en", "audio_es", "es"])
    assert again.path == ds.path and again.sha256 == ds.sha256  # built once, then read from the cache
    with pytest.raises(semhub.ParameterError, match="no split 'dev'; it has test"):
        semhub.dataset("fleurs@dev", views=["audio_en", "audio_es"])
    with pytest.raises(semhub.ParameterError, match="fleurs has no view 'audio_xx'"):
        semhub.dataset("fleurs", views=["audio_en", "audio_xx"])


def test_hf_spec_joins_configurations_named_in_its_mapping(tmp_path):
    """Without the recipe: one configuration per view, joined on the id column."""
    recordings = fleurs_copy(tmp_path / "fleurs")
    ds = semhub.dataset(f"hf:{tmp_path / 'fleurs'}@test#audio_en=en_us/audio,audio_es=es_419/audio,es=es_419/transcription")
    assert ds.ids == ["3", "7", "12"] and ds.columns["es"][1] == "el perro"
    assert (ds.base_dir / ds.columns["audio_es"][0]).read_bytes() == recordings[("es", 3)]


def test_fleurs_through_the_cli_on_a_tiny_whisper(tmp_path, monkeypatch, cli_run):
    from conftest import make_tokenizer, tiny_backbone
    from test_audio import whisper_fe

    fleurs_copy(tmp_path / "fleurs")
    monkeypatch.setenv("SEMHUB_FLEURS", str(tmp_path / "fleurs"))
    bb = tiny_backbone("whisper", processor=whisper_fe())
    model_dir = tmp_path / "tiny-whisper"
    bb.model.save_pretrained(model_dir)
    bb.processor.save_pretrained(model_dir)
    make_tokenizer(speech=True).save_pretrained(model_dir)
    out = tmp_path / "run"
    code, _, err = cli_run("analyze", "--modality", "audio", "--data", "fleurs", "--views", "audio_en,audio_es",
                           "--model", str(model_dir), "--bootstrap", "0", "--out", str(out))
    assert code == 0, err
    (rec,) = json.loads((out / "results.json").read_text())["similarity"]
    assert (rec["a"], rec["b"], rec["n"]) == ("audio_en", "audio_es", 3)
    built = Path(json.loads((out / "manifest.json").read_text())["options"]["data"])  # the joined rows, cached
    assert json.loads((built.parent / "source.json").read_text())["data"].startswith("fleurs (")


def test_flores_recipe_and_its_splits(tmp_path, monkeypatch, cli_run):
    from conftest import save_tiny_lm

    flores_copy(tmp_path / "flores")
    monkeypatch.setenv("SEMHUB_FLORES", str(tmp_path / "flores"))
    ds = semhub.dataset("flores", views=["en", "zh", "sw"])
    assert ds.ids == ["3", "7", "12"] and ds.columns["zh"][0] == "猫坐着 (devtest)"
    assert semhub.dataset("flores@dev", views=["en", "zh"]).columns["en"][-1] == "blue river (dev)"
    # the clone read directly: its README's configurations, not every parquet file under dev/
    one = semhub.dataset(f"hf:{tmp_path / 'flores'}:swh_Latn@dev#sw=text")
    assert one.ids == ["3", "7", "12"] and one.columns["sw"][0] == "paka aliketi (dev)"
    model = tmp_path / "tiny"
    save_tiny_lm(model)
    out = tmp_path / "run"
    code, _, err = cli_run("analyze", "--data", "flores", "--views", "en,zh,sw", "--model", str(model),
                           "--bootstrap", "0", "--out", str(out))
    assert code == 0, err
    pairs = [(r["a"], r["b"], r["n"]) for r in json.loads((out / "results.json").read_text())["similarity"]]
    assert pairs == [("en", "zh", 3), ("en", "sw", 3)]


def test_hf_data_reads_a_saved_dataset_with_a_column_mapping(tmp_path, cli_run):
    from conftest import save_tiny_lm

    saved = tmp_path / "pairs"
    datasets.Dataset.from_dict({"sid": ["a", "b", "c"], "src": ["the cat", "the dog", "red house"],
                                "tgt": ["el gato", "el perro", "casa roja"]}).save_to_disk(str(saved))
    two = tmp_path / "two-splits"
    table = datasets.Dataset.from_dict({"en": ["a b", "c d"], "es": ["e f", "g h"]})
    datasets.DatasetDict({"train": table, "validation": table}).save_to_disk(str(two))
    with pytest.raises(semhub.ParameterError, match=r"several splits \(train, validation\); choose one with @SPLIT"):
        semhub.dataset(f"hf:{two}")
    assert semhub.dataset(f"hf:{two}@validation").ids == ["0", "1"]  # no id column: row numbers
    ds = semhub.dataset(f"hf:{saved}#en=src,es=tgt,id=sid")
    assert ds.views == ["en", "es"] and ds.ids == ["a", "b", "c"] and ds.columns["es"][2] == "casa roja"
    model = tmp_path / "tiny"
    save_tiny_lm(model)
    code, _, err = cli_run("analyze", "--data", f"hf:{saved}#en=src,es=tgt,id=sid", "--model", str(model),
                           "--bootstrap", "0", "--out", str(tmp_path / "run"))
    assert code == 0, err
    code, _, err = cli_run("analyze", "--data", f"hf:{saved}#en=nope", "--model", str(model),
                           "--out", str(tmp_path / "bad"))
    assert code == 2 and err.count("\n") == 1 and "--data: " in err and "column 'nope'" in err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("cells, message", [
    ([b"abc", b"de"], "view 'en' (column 'en') holds binary cells, not texts or media files"),
    ([1.5, 2.5], "view 'en' (column 'en') holds float64 cells, not texts or media files"),
    ([{"a": "x"}, {"a": "y"}], "view 'en' (column 'en') holds struct cells, not texts or media files"),
    (["the cat", None], "view 'en' (column 'en'), id 1: an empty cell"),
])
def test_cells_that_are_not_texts_are_refused_naming_the_dataset_not_the_cache(tmp_path, cells, message):
    """Column types come from the table's features before any cell is read; an empty cell names its id."""
    saved = tmp_path / "saved"
    datasets.Dataset.from_dict({"en": cells, "es": ["el gato", "el perro"]}).save_to_disk(str(saved))
    with pytest.raises(semhub.ParameterError) as caught:
        semhub.dataset(f"hf:{saved}")
    text = str(caught.value)
    assert text == f"data: hf:{saved}: {message}" and "cache" not in text


def test_offline_hub_dataset_is_one_line_naming_it(tmp_path, cli_run, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    code, _, err = cli_run("analyze", "--data", "hf:someone/never-downloaded:cfg@test", "--out", str(tmp_path / "r"))
    assert code == 2 and err.count("\n") == 1, err
    assert "--data: hf:someone/never-downloaded:cfg@test: not in the local cache and the hub is offline" in err
    assert not (tmp_path / "r").exists()
    code, _, err = cli_run("analyze", "--data", f"hf:{tmp_path}/missing-folder/", "--out", str(tmp_path / "r"))
    assert code == 2 and "is not a dataset folder" in err


def test_fleurs_on_the_hub_reads_its_parquet_export(monkeypatch):
    """google/fleurs is a loading script, which datasets no longer runs: the recipe reads the hub's
    parquet export of each language through datasets' hf:// file system."""
    calls = []

    def fake_load(path, config=None, data_files=None, **kwargs):
        calls.append((path, config, data_files))
        raise ConnectionError("offline")

    monkeypatch.delenv("SEMHUB_FLEURS", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    with pytest.raises(semhub.ParameterError, match="hf:google/fleurs:es_419@test: not in the local cache"):
        semhub.dataset("fleurs", views=["audio_es", "audio_en"])
    assert calls[0] == ("parquet", None,
                        {"test": "hf://datasets/google/fleurs@refs%2Fconvert%2Fparquet/es_419/test/*.parquet"})


def test_media_cells_naming_files_outside_the_dataset_are_refused_before_anything_is_copied(tmp_path):
    """A cell without bytes whose path names a file outside the dataset's folder is refused (as media paths
    in an aligned file are), before a byte of it is read; inside the folder, or with the flag, it is read."""
    features = datasets.Features({"id": datasets.Value("int32"), "audio": datasets.Audio(sampling_rate=16_000),
                                  "transcription": datasets.Value("string")})
    secret = tmp_path / "secret.wav"
    secret.write_bytes(wav_bytes(300))
    root = tmp_path / "data"
    (root / "en_us" / "test").mkdir(parents=True)
    rows = {"id": [1, 2], "audio": [{"bytes": wav_bytes(100), "path": "one.wav"},  # bytes: typed as binary
                                    {"bytes": None, "path": str(secret)}], "transcription": ["one", "two"]}
    write_parquet(root / "en_us" / "test" / "0000.parquet", rows, features)
    spec = f"hf:{root}:en_us@test#audio_en=audio,en=transcription"
    with pytest.raises(semhub.ParameterError, match=r"data: view 'audio_en', id 2: the media cell names .*secret\.wav, "
                                                     r"outside the dataset's folder \(pass --allow-outside-paths"):
        semhub.dataset(spec)
    cached = list((semhub.cache_root() / "hub-data").rglob("*.wav")) if (semhub.cache_root() / "hub-data").exists() else []
    assert all(p.read_bytes() != secret.read_bytes() for p in cached)  # nothing of it was copied
    with semhub.allow_outside_paths():
        ds = semhub.dataset(spec)
    assert (ds.base_dir / ds.columns["audio_en"][1]).read_bytes() == secret.read_bytes()
    other = tmp_path / "other"  # relative paths: to the dataset's folder
    (other / "en_us" / "test").mkdir(parents=True)
    (other / "clips").mkdir()
    (other / "clips" / "a.wav").write_bytes(wav_bytes(250))
    rows["audio"] = [{"bytes": wav_bytes(100), "path": "one.wav"}, {"bytes": None, "path": "clips/a.wav"}]
    write_parquet(other / "en_us" / "test" / "0000.parquet", rows, features)
    ds = semhub.dataset(f"hf:{other}:en_us@test#audio_en=audio,en=transcription")
    assert (ds.base_dir / ds.columns["audio_en"][1]).read_bytes() == (other / "clips" / "a.wav").read_bytes()
