"""The scripts a new contributor runs first, and the packaging a new user installs.

scripts/install-system-deps and scripts/test run for real here, with a fake
`apt-get` (and `sudo`) first on PATH that only records being called: on this
prepared machine neither may install anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from serverproc import REPO

INSTALL_SYSTEM_DEPS = REPO / "scripts" / "install-system-deps"
TEST_SCRIPT = REPO / "scripts" / "test"


def fake_programs(folder: Path, log: Path, **bodies: str) -> dict[str, str]:
    """An environment whose PATH finds recording `apt-get` and `sudo`, and ``bodies``, in ``folder`` first.

    ``bodies`` maps a program name to its shell script (after ``#!/bin/sh``).
    """
    folder.mkdir(exist_ok=True)
    recorder = f'echo "$(basename "$0") $*" >> "{log}"\n'
    for name, body in {"apt-get": recorder, "sudo": recorder, **bodies}.items():
        program = folder / name
        program.write_text("#!/bin/sh\n" + body)
        program.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def calls(log: Path) -> str:
    return log.read_text() if log.exists() else ""


def install_system_deps(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(INSTALL_SYSTEM_DEPS)], capture_output=True, text=True, env=env, timeout=60)


def test_install_system_deps_installs_nothing_on_a_prepared_machine(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    result = install_system_deps(fake_programs(tmp_path / "bin", log))
    assert result.returncode == 0, result.stderr
    assert calls(log) == ""
    assert result.stdout == result.stderr == ""  # quiet


def test_a_font_list_longer_than_one_match_still_counts_as_present(tmp_path: Path) -> None:
    """`fc-list | grep -qi dejavu` under pipefail used to fail whenever grep stopped first (exit 141)."""
    log = tmp_path / "calls"
    many_fonts = ('echo "/usr/share/fonts/dejavu/DejaVuSans.ttf: DejaVu Sans:style=Book"\n'
                  'yes "/usr/share/fonts/other/Other.ttf: Other:style=Regular" | head -n 200000\n')
    result = install_system_deps(fake_programs(tmp_path / "bin", log, **{"fc-list": many_fonts}))
    assert result.returncode == 0, result.stderr
    assert calls(log) == ""


def test_a_missing_font_is_still_installed(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    no_dejavu = 'echo "/usr/share/fonts/other/Other.ttf: Other:style=Regular"\n'
    result = install_system_deps(fake_programs(tmp_path / "bin", log, **{"fc-list": no_dejavu}))
    assert result.returncode == 0, result.stderr
    installs = [line for line in calls(log).splitlines() if line.startswith("apt-get install")]
    assert len(installs) == 1 and installs[0].split()[-1] == "fonts-dejavu-core", calls(log)


def _installed_record() -> Path:
    """The RECORD file of Parley's installation in this venv (rewritten by every install)."""
    records = list(Path(sysconfig.get_paths()["purelib"]).glob("parley-*.dist-info/RECORD"))
    assert len(records) == 1, records
    return records[0]


def test_a_second_run_of_the_test_command_installs_nothing(tmp_path: Path) -> None:
    """scripts/test used to run pip twice on every run (and, with the font check, apt-get)."""
    if Path(sys.prefix).resolve() != (REPO / ".venv-test").resolve():
        pytest.skip("scripts/test manages .venv-test; these tests run in another Python")
    log = tmp_path / "calls"
    python3 = shutil.which("python3")
    assert python3 is not None
    env = fake_programs(tmp_path / "bin", log, python3=f'echo "python3 $*" >> "{log}"\nexec "{python3}" "$@"\n')
    # The first run brings the venv up to date with this tree, if it was not.
    first = subprocess.run([str(TEST_SCRIPT), "--version"], capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    record = _installed_record().stat().st_mtime_ns
    log.unlink(missing_ok=True)
    second = subprocess.run([str(TEST_SCRIPT), "--version"], capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "installing" not in second.stderr, second.stderr
    assert "apt-get" not in calls(log) and "-m venv" not in calls(log), calls(log)
    assert _installed_record().stat().st_mtime_ns == record


def test_building_parley_gives_no_license_deprecation_warning(tmp_path: Path) -> None:
    """setuptools used to warn three times per install that `project.license` as a table is deprecated."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source)
    for package in ("parley", "server", "gateway", "desktop", "web"):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--verbose", "-w", str(tmp_path / "dist"),
                            str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    output = (built.stdout + built.stderr).lower()
    assert not [line for line in output.splitlines() if "license" in line and "deprecat" in line]
    (wheel,) = (tmp_path / "dist").glob("parley-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata.splitlines()
