"""The ``tiercache`` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_python

import tiercache


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "tiercache", *args)


def test_info_json_parses_and_lists_the_three_kinds_as_available():
    out = run("info", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["version"] == tiercache.__version__
    kinds = {row["name"]: row for row in report["kinds"]}
    assert set(kinds) == {"dram", "file", "fixed"}
    assert all(row["available"] for row in kinds.values()), kinds
    assert kinds["dram"]["capacity"] > 0


def test_info_reports_an_unusable_file_directory_without_failing(tmp_path):
    out = run("info", "--json", "--dir", str(tmp_path / "missing"))
    assert out.returncode == 0, out.stderr
    file_row = next(r for r in json.loads(out.stdout)["kinds"] if r["name"] == "file")
    assert file_row["available"] is False
    assert "does not exist" in file_row["error"] or "missing" in file_row["error"]


def test_info_text_names_the_version():
    out = run("info")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"tiercache {tiercache.__version__}")


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "tiercache"
    if not script.exists():
        pytest.skip("not installed as a console script in this environment")
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert out.returncode == 0
    assert out.stdout.strip() == f"tiercache {tiercache.__version__}"
