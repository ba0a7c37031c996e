"""Print the linters' requirements, one a line: pyproject.toml's `dev` extra (where ruff and
mypy are pinned), plus ruff or mypy unpinned if that extra does not name them. `make lint`
installs exactly these, so every machine checks with the same versions."""

from __future__ import annotations

import re
from pathlib import Path

text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
try:
    import tomllib

    dev = tomllib.loads(text)["project"].get("optional-dependencies", {}).get("dev", [])
except ModuleNotFoundError:  # Python < 3.11: the extra is one `dev = [...]` line or block
    block = re.search(r"^dev\s*=\s*\[(.*?)\]", text, re.DOTALL | re.MULTILINE)
    dev = re.findall(r'"([^"]+)"', block.group(1)) if block else []
names = {re.split(r"[\s<>=!~\[;]", spec, maxsplit=1)[0].lower() for spec in dev}
print("\n".join([*dev, *(tool for tool in ("ruff", "mypy") if tool not in names)]))
