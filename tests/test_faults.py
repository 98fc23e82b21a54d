"""Faults are isolated and named: a plugin that raises on import, while registering, or in the
middle of an analysis; running out of memory; Ctrl-C. None leaves a run directory behind."""
from __future__ import annotations

import json

import pytest

from test_plugins import fake_distribution

ANALYSIS = '''
from semhub import hookimpl
class Failing:
    name = "{name}"
    description = "raises {exc} after capturing"
    plot_name = "x.png"
    def run(self, ctx):
        ctx.states(ctx.views[0])  # the model has run: the failure is mid-analysis
        {raise_line}
@hookimpl
def semhub_register_analyses(register):
    register(Failing())
'''


@pytest.fixture
def tiny_dir(tmp_path):
    from conftest import save_tiny_lm

    return save_tiny_lm(tmp_path / "tiny")


def install(plugins, tmp_path, monkeypatch, module: str, body: str) -> None:
    site = tmp_path / f"site-{module}"
    site.mkdir()
    fake_distribution(site, module, body)
    monkeypatch.syspath_prepend(str(site))
    plugins.reset()  # fixtures may have loaded the plugins already


def test_plugin_raising_while_registering_is_named_and_the_rest_load(fresh_plugins, monkeypatch, tmp_path, cli_run):
    body = '''
from semhub import hookimpl
class Half:
    name = "half"
    modality = "toy"
@hookimpl
def semhub_register_spokes(register):
    register(Half())
    raise RuntimeError("registry of toys is corrupt")
'''
    install(fresh_plugins, tmp_path, monkeypatch, "semhub_badreg", body)
    from semhub.plugins import catalog

    spokes = catalog.spokes()
    assert "text" in spokes and "half" not in spokes  # nothing half-registered from the failing call
    code, out, _ = cli_run("plugins", "--json")
    (failed,) = json.loads(out)["failed"]
    assert {k: failed[k] for k in ("name", "module", "hook", "error")} == {
        "name": "semhub_badreg", "module": "semhub_badreg", "hook": "semhub_register_spokes",
        "error": "RuntimeError: registry of toys is corrupt"}
    assert failed["where"].endswith("semhub_badreg.py:9") or "semhub_badreg" in failed["where"]
    code, out, _ = cli_run("plugins")
    assert "semhub_badreg" in out and "FAILED in semhub_register_spokes" in out


def test_plugin_command_hook_raising_does_not_break_the_cli(fresh_plugins, monkeypatch, tmp_path, cli_run):
    body = '''
from semhub import hookimpl
@hookimpl
def semhub_register_commands(cli):
    raise KeyError("no such group")
'''
    install(fresh_plugins, tmp_path, monkeypatch, "semhub_badcmd", body)
    code, out, _ = cli_run("plugins")
    assert code == 0 and "semhub_badcmd" in out and "FAILED in semhub_register_commands" in out


@pytest.mark.parametrize("module,exc,code,message", [
    ("semhub_bug", "ZeroDivisionError('division by zero')", 1,
     "analysis 'failing' (plugin semhub_bug) failed: ZeroDivisionError: division by zero"),
    ("semhub_oom", "__import__('torch').OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB')", 1,
     "analysis 'failing' ran out of memory (OutOfMemoryError); try a smaller batch_size (was 16)"),
    ("semhub_ctrl_c", "KeyboardInterrupt()", 130, "Aborted."),
    ("semhub_exits", "SystemExit(0)", 1, "analysis 'failing' (plugin semhub_exits) called sys.exit(0) instead of "
                                         "returning a result"),
])
def test_failure_mid_analysis_leaves_no_run_directory(module, exc, code, message, fresh_plugins, monkeypatch,
                                                      tmp_path, tiny_dir, cli_run):
    body = ANALYSIS.format(name="failing", exc=exc, raise_line=f"raise {exc}")
    install(fresh_plugins, tmp_path, monkeypatch, module, body)
    out = tmp_path / "runs" / "run"
    out.parent.mkdir()
    got, _, err = cli_run("analyze", "--model", str(tiny_dir), "--analysis", "failing", "--limit", "4",
                          "--out", str(out))
    lines = [line for line in err.splitlines() if line.strip()]
    assert got == code and len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err
    assert list(out.parent.iterdir()) == []  # nothing, not even a partial folder
    # the same command, with a working analysis, then just runs: nothing to clean up first
    again, _, err = cli_run("analyze", "--model", str(tiny_dir), "--limit", "4", "--bootstrap", "0", "--out", str(out))
    assert again == 0, err
    assert (out / "results.json").exists() and (out / "report.html").exists()


def test_debug_shows_the_traceback(fresh_plugins, monkeypatch, tmp_path, tiny_dir, cli_run):
    body = ANALYSIS.format(name="failing", exc="ValueError", raise_line="raise ValueError('boom')")
    install(fresh_plugins, tmp_path, monkeypatch, "semhub_debugged", body)
    monkeypatch.setenv("SEMHUB_DEBUG", "1")
    with pytest.raises(ValueError, match="boom"):
        cli_run("analyze", "--model", str(tiny_dir), "--analysis", "failing", "--limit", "4",
                "--out", str(tmp_path / "run"))


def test_staging_folders_of_killed_runs_are_cleaned_and_live_ones_kept(tmp_path, capsys):
    import os
    import subprocess
    import sys

    from semhub.runs.rundir import staged_run_dir

    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)  # a process that has exited: a killed run's pid
    stale = tmp_path / f".old.partial-{gone}-abc123"
    stale.mkdir()
    (stale / "results.json").write_text("{}")
    live = tmp_path / f".other.partial-{os.getppid()}-xyz789"  # a run still going (our parent process)
    live.mkdir()
    unknown = tmp_path / ".x.partial-abcdef"  # no pid in the name: not ours to judge
    unknown.mkdir()
    with staged_run_dir(tmp_path / "run") as staging:
        (staging / "a.txt").write_text("1")
    assert not stale.exists() and live.is_dir() and unknown.is_dir()
    assert (tmp_path / "run" / "a.txt").read_text() == "1"
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"semhub: removed 1 staging folder(s) left by killed runs in {tmp_path}"]


def test_a_cache_entry_finished_by_another_process_meanwhile_is_kept(tmp_path):
    """Two processes converting the same model at once: the one that finishes second keeps the first's
    folder (a reader may be using its files) and drops its own copy."""
    from semhub.cache import cached_build

    target = tmp_path / "entry"

    def other_process_first(folder) -> None:
        (folder / "weights.bin").write_text("ours")
        target.mkdir()  # meanwhile the other process renamed its finished folder into place
        (target / "weights.bin").write_text("theirs")
        (target / "semhub-complete").write_text("stamp\n")

    assert cached_build(target, other_process_first, "stamp") == target
    assert (target / "weights.bin").read_text() == "theirs"
    assert [p.name for p in target.parent.iterdir()] == ["entry"]  # our staging folder is gone
    assert cached_build(target, lambda folder: pytest.fail("built twice"), "stamp") == target


def _interrupted_run(tmp_path, signum: int, delays: list[float]) -> tuple[int, str]:
    """``semhub analyze`` started as the executable, sent ``signum`` after each delay in turn; (exit status,
    stderr). The child gets the default disposition, as a terminal would give it."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    exe = Path(sys.executable).with_name("semhub")
    proc = subprocess.Popen([str(exe), "analyze", "--limit", "4", "--out", str(tmp_path / "run")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signum, signal.SIG_DFL))
    for delay in delays:
        time.sleep(delay)
        proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err and not (tmp_path / "run").exists() and not list(tmp_path.glob(".run*")), err
    return proc.returncode, err


@pytest.mark.parametrize("delays", [[0.3], [0.8, 0.01], [2.0, 0.01]], ids=["start-up", "start-up-twice", "loading-twice"])
def test_ctrl_c_at_start_up_or_twice_is_one_line(delays, tmp_path):
    """Ctrl-C while the CLI is still importing (or a second one while the first is handled): exit 130
    and ``Aborted.``, never a KeyboardInterrupt traceback (exit -2)."""
    import signal

    code, err = _interrupted_run(tmp_path, signal.SIGINT, delays)
    assert code == 130 and err.strip().splitlines()[-1] == "Aborted.", err


@pytest.mark.parametrize("delay", [0.3, 2.0], ids=["start-up", "loading"])
def test_sigterm_is_the_same_clean_abort(delay, tmp_path):
    """SIGTERM (``timeout``, a job scheduler) ends like Ctrl-C: ``Terminated.``, exit 143, nothing left."""
    import signal

    code, err = _interrupted_run(tmp_path, signal.SIGTERM, [delay])
    assert code == 143 and err.strip().splitlines()[-1] == "Terminated.", err


def test_a_spoke_whose_validation_raises_is_named_in_one_line(monkeypatch, tmp_path, cli_run):
    import semhub

    spoke = semhub.spoke_for_view("en")

    def broken(value, base_dir):
        raise KeyError("boom")

    monkeypatch.setattr(spoke, "validate", broken)
    data = tmp_path / "d.jsonl"
    data.write_text('{"en": "the cat", "zh": "猫"}\n{"en": "the dog", "zh": "狗"}\n')
    code, _, err = cli_run("analyze", "--data", str(data), "--model", str(tmp_path / "never-loaded"),
                           "--out", str(tmp_path / "run"))
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    assert f"spoke {spoke.name!r} (plugin text) raised KeyError while validating {data}:1" \
        in lines[0], lines[0]
