"""``python -m tiercache``: the command line (tiercache.cli)."""

from __future__ import annotations

import sys

from tiercache.cli import main

if __name__ == "__main__":
    sys.exit(main())
