"""The README's example runs and prints what its comments say."""

from __future__ import annotations

import os
import re

import pytest
from helpers import ROOT, run_python


def test_readme_example_runs_and_prints_its_comments():
    if not os.path.isdir("/dev/shm"):
        pytest.skip("the example uses /dev/shm")
    text = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1)
    out = run_python("-c", code, timeout=60)
    assert out.returncode == 0, out.stderr
    expected = [
        line.split("# ", 1)[1].strip()
        for line in code.splitlines()
        if line.lstrip().startswith("print(") and "# " in line
    ]
    assert out.stdout.splitlines() == expected
