"""The binder/ folder starts the notebooks ready to run on the simulator (repo2docker's rules)."""

from __future__ import annotations

import os
import re
import subprocess
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the dev extra installs tomli, the same parser
    import tomli as tomllib

ROOT = Path(__file__).parent.parent
BINDER = ROOT / "binder"


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_lines() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def project_requirements() -> dict[str, Requirement]:
    project = pyproject()["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return {Requirement(spec).name.lower(): Requirement(spec) for spec in specs}


def test_only_the_python_buildpack_files_are_there():
    # an environment.yml would switch repo2docker to conda and skip requirements.txt;
    # both binder/ and .binder/ is an error
    assert not (BINDER / "environment.yml").exists()
    assert not (ROOT / ".binder").exists()
    assert {"runtime.txt", "requirements.txt", "postBuild", "start"} <= {
        path.name for path in BINDER.iterdir()
    }


def test_runtime_is_a_python_the_project_supports():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime == "python-3.11"
    requires = SpecifierSet(pyproject()["project"]["requires-python"])
    assert runtime.removeprefix("python-") in requires


def test_requirements_install_the_project_and_pin_compatibly():
    lines = requirement_lines()
    assert "-e ." in lines  # binder/ exists, so pyproject.toml alone would not be installed
    ours = project_requirements()
    names = set()
    for line in lines:
        if line == "-e .":
            continue
        requirement = Requirement(line)
        names.add(requirement.name.lower())
        bounds = {spec.operator for spec in requirement.specifier}
        assert ">=" in bounds and "<" in bounds, f"{line}: give a lower and an upper bound"
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is not None:  # a version that really exists satisfies the pin
            assert requirement.specifier.contains(installed, prereleases=True), line
        if requirement.name.lower() in ours:
            project_spec = ours[requirement.name.lower()].specifier
            lower = next(s.version for s in requirement.specifier if s.operator == ">=")
            assert project_spec.contains(lower), f"{line} vs pyproject {project_spec}"
            if installed is not None:
                assert project_spec.contains(installed, prereleases=True)
    assert {"jupyterlab", "voila"} <= names


def test_start_sets_simulator_mode_and_hands_over(tmp_path):
    start = BINDER / "start"
    text = start.read_text()
    assert text.startswith("#!/bin/bash\n") and os.access(start, os.X_OK)
    assert "export TTS_NB_PROVIDER=simulator" in text
    assert text.strip().splitlines()[-1] == 'exec "$@"'
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    done = subprocess.run(
        [str(start), "bash", "-c", 'echo "$TTS_NB_PROVIDER:$0:$1"', "a b", "c"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert done.stdout == "simulator:a b:c\n"  # the command runs with its arguments intact


def test_post_build_is_strict_bash():
    post_build = BINDER / "postBuild"
    text = post_build.read_text()
    assert text.startswith("#!/bin/bash\n") and os.access(post_build, os.X_OK)
    assert "set -euo pipefail" in text
    subprocess.run(["bash", "-n", str(post_build)], check=True)


def github_repository() -> str | None:
    """owner/name from `git remote get-url origin`, or None without a GitHub remote."""
    try:
        url = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    found = re.search(r"github\.com[:/]([^/]+/[^/]+?)(?:\.git)?/?$", url)
    return found.group(1) if found else None


def test_readme_has_the_badge_and_the_three_ways_in():
    readme = (ROOT / "README.md").read_text()
    assert "https://mybinder.org/badge_logo.svg" in readme
    badge = re.search(r"https://mybinder\.org/v2/gh/([^/]+/[^/]+)/HEAD\?(\S+?)\)", readme)
    assert badge and badge.group(2) == "urlpath=lab/tree/notebooks/01_quickstart.ipynb"
    repository = github_repository()
    if repository is None:  # no remote to read it from: a placeholder, and it says so
        assert badge.group(1) == "OWNER/tts_nb" and "<!-- binder-placeholder:" in readme
    else:
        assert badge.group(1) == repository
    assert "voila notebooks/06_compare_voices.ipynb" in readme
