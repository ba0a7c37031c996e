"""tiercache: allocate memory by kind (DRAM, file-backed PMEM, fixed areas) from Python.

Public API: :class:`Kind`, :class:`Allocation`, :class:`KindStats` and the exceptions in
:mod:`tiercache.errors`. Importing the package loads the compiled ``tiercache._native``.
"""

from __future__ import annotations

from tiercache import _bindings
from tiercache.errors import (
    DirectoryAccessError,
    DirectoryNotFoundError,
    InvalidArgumentError,
    KindClosedError,
    KindUnavailableError,
    OutOfMemoryError,
    TierCacheError,
    UnsupportedFilesystemError,
)
from tiercache.kinds import FILE_MIN_SIZE, Allocation, Kind, KindStats

__all__ = [
    "FILE_MIN_SIZE",
    "Allocation",
    "DirectoryAccessError",
    "DirectoryNotFoundError",
    "InvalidArgumentError",
    "Kind",
    "KindClosedError",
    "KindStats",
    "KindUnavailableError",
    "OutOfMemoryError",
    "TierCacheError",
    "UnsupportedFilesystemError",
    "__version__",
]

#: The package version, which is the C library's TC_VERSION_* (one version for both).
__version__: str = "{}.{}.{}".format(*_bindings.version())
