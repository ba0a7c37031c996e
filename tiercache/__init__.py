"""tiercache: a tiered cache and memory kinds (DRAM, file-backed PMEM, fixed areas).

Public API: :class:`TierCache` and :class:`Tier` (the dict-like cache), :class:`Kind`,
:class:`Allocation`, :class:`KindStats` and the exceptions in :mod:`tiercache.errors`.
Importing the package loads the compiled ``tiercache._native``.
"""

from __future__ import annotations

from tiercache import _bindings
from tiercache.cache import Tier, TierCache
from tiercache.errors import (
    CacheClosedError,
    CacheCorruptError,
    DirectoryAccessError,
    DirectoryNotFoundError,
    EntryTooLargeError,
    InvalidArgumentError,
    KindClosedError,
    KindUnavailableError,
    NotANumberError,
    NumberRangeError,
    OutOfMemoryError,
    TierCacheError,
    UnsupportedFilesystemError,
)
from tiercache.kinds import FILE_MIN_SIZE, Allocation, Kind, KindStats

__all__ = [
    "FILE_MIN_SIZE",
    "Allocation",
    "CacheClosedError",
    "CacheCorruptError",
    "DirectoryAccessError",
    "DirectoryNotFoundError",
    "EntryTooLargeError",
    "InvalidArgumentError",
    "Kind",
    "KindClosedError",
    "KindStats",
    "KindUnavailableError",
    "NotANumberError",
    "NumberRangeError",
    "OutOfMemoryError",
    "Tier",
    "TierCache",
    "TierCacheError",
    "UnsupportedFilesystemError",
    "__version__",
]

#: The package version, which is the C library's TC_VERSION_* (one version for both).
__version__: str = "{}.{}.{}".format(*_bindings.version())
