"""Engines: the Ray engine (a 2-worker local Ray instance started here) gives the same numbers as
the local engine, bit for bit, with and without an activation store."""
from __future__ import annotations

import json

import pytest

from conftest import save_tiny_lm


@pytest.fixture(scope="module")
def ray_instance():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def test_ray_engine_is_identical_to_the_local_engine(ray_instance, tmp_path, cli_run):
    model = save_tiny_lm(tmp_path / "tiny")
    args = ("analyze", "--model", str(model), "--views", "en,es,fr", "--limit", "60", "--shard-rows", "8",
            "--bootstrap", "100")
    code, _, err = cli_run(*args, "--out", str(tmp_path / "local"))
    assert code == 0, err
    code, _, err = cli_run(*args, "--engine", "ray", "--workers", "2", "--out", str(tmp_path / "ray"))
    assert code == 0, err
    local = json.loads((tmp_path / "local" / "results.json").read_text())
    assert json.loads((tmp_path / "ray" / "results.json").read_text()) == local
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["options"]["engine"] == "ray" and manifest["options"]["workers"] == 2
    # the Ray workers can fill an activation store too; the model-free read-back agrees
    code, _, err = cli_run(*args, "--engine", "ray", "--store", str(tmp_path / "store"), "--out", str(tmp_path / "rs"))
    assert code == 0, err
    assert json.loads((tmp_path / "rs" / "results.json").read_text()) == local
    assert len(list((tmp_path / "store" / "es").glob("shard-*.safetensors"))) == 8  # 60 rows / 8 per shard


def test_more_workers_than_the_cluster_has_cpus_is_one_line_not_a_hang(ray_instance, tmp_path, cli_run):
    model = save_tiny_lm(tmp_path / "tiny")
    code, _, err = cli_run("analyze", "--model", str(model), "--views", "en,es", "--limit", "8", "--engine", "ray",
                           "--workers", "3", "--out", str(tmp_path / "ray"))
    lines = err.strip().splitlines()
    assert code == 2 and lines == ["Error: --workers: 3 actors need 3 CPUs; the Ray cluster has 2"], err
    assert not (tmp_path / "ray").exists()
