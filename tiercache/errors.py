"""Exceptions raised by tiercache: one class per TC_ERR_* code of the C API.

Each class names its C code in ``code_name``; tiercache._bindings maps the numbers to classes,
so this module does not depend on the compiled extension. Where a standard exception fits,
the class also derives from it (``except MemoryError`` catches OutOfMemoryError).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AllocatorArenaError",
    "CapacityWarning",
    "DirectoryAccessError",
    "DirectoryNotFoundError",
    "EnvironmentOptionError",
    "ForkedProcessError",
    "InvalidArgumentError",
    "KindBusyError",
    "KindClosedError",
    "KindUnavailableError",
    "LimitReachedError",
    "MapFailedError",
    "NotANumberError",
    "NumberRangeError",
    "OutOfMemoryError",
    "SystemCallError",
    "TierCacheError",
    "UnsupportedFilesystemError",
]


class TierCacheError(Exception):
    """Base of every tiercache error.

    ``code`` is the TC_ERR_* value (0 when the error was found in Python) and ``path`` the
    directory or file the operation was about, if any.
    """

    code_name: ClassVar[str] = ""

    def __init__(self, message: str, code: int = 0, path: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.path = path


class InvalidArgumentError(TierCacheError, ValueError):
    """An argument is out of range or malformed (TC_ERR_INVALID)."""

    code_name = "TC_ERR_INVALID"


class OutOfMemoryError(TierCacheError, MemoryError):
    """No memory or file space left for the request (TC_ERR_NOMEM, ENOMEM)."""

    code_name = "TC_ERR_NOMEM"


class KindUnavailableError(TierCacheError):
    """The kind's memory does not exist on this machine (TC_ERR_UNAVAILABLE)."""

    code_name = "TC_ERR_UNAVAILABLE"


class DirectoryNotFoundError(TierCacheError, FileNotFoundError):
    """The directory does not exist or is not a directory (TC_ERR_NOENT)."""

    code_name = "TC_ERR_NOENT"


class DirectoryAccessError(TierCacheError, PermissionError):
    """The directory is not writable by this process (TC_ERR_ACCESS)."""

    code_name = "TC_ERR_ACCESS"


class UnsupportedFilesystemError(TierCacheError):
    """The filesystem lacks a needed feature, e.g. hole punching or DAX (TC_ERR_NOTSUP)."""

    code_name = "TC_ERR_NOTSUP"


class LimitReachedError(TierCacheError):
    """A kind, arena or address-space limit was reached (TC_ERR_TOOMANY)."""

    code_name = "TC_ERR_TOOMANY"


class EnvironmentOptionError(TierCacheError):
    """An environment option has an invalid value (TC_ERR_ENVIRON)."""

    code_name = "TC_ERR_ENVIRON"


class KindClosedError(TierCacheError):
    """The kind was already destroyed or closed (TC_ERR_DESTROYED)."""

    code_name = "TC_ERR_DESTROYED"


class MapFailedError(TierCacheError, OSError):
    """The kernel refused to map memory (TC_ERR_MMAP)."""

    code_name = "TC_ERR_MMAP"


class AllocatorArenaError(TierCacheError):
    """The allocator refused to create an arena (TC_ERR_ARENA)."""

    code_name = "TC_ERR_ARENA"


class ForkedProcessError(TierCacheError):
    """A file-backed kind was used in a child process after fork (TC_ERR_FORKED)."""

    code_name = "TC_ERR_FORKED"


class SystemCallError(TierCacheError, OSError):
    """Another operating-system error; ``errno`` tells which (TC_ERR_SYSTEM)."""

    code_name = "TC_ERR_SYSTEM"


class KindBusyError(TierCacheError):
    """The kind still has live allocations it cannot release (TC_ERR_BUSY)."""

    code_name = "TC_ERR_BUSY"


class EntryTooLargeError(TierCacheError, ValueError):
    """A cache entry is larger than any tier of the cache can hold (TC_ERR_TOOLARGE)."""

    code_name = "TC_ERR_TOOLARGE"


class CacheCorruptError(TierCacheError):
    """TierCache.check() found a broken invariant (TC_ERR_CORRUPT): a bug, please report it."""

    code_name = "TC_ERR_CORRUPT"


class CacheClosedError(TierCacheError, ValueError):
    """The cache was closed (TC_ERR_CLOSED); like I/O on a closed file, a ValueError."""

    code_name = "TC_ERR_CLOSED"


class NotANumberError(TierCacheError, TypeError):
    """incr or decr of a value that is not a decimal number (TC_ERR_NOTNUMBER)."""

    code_name = "TC_ERR_NOTNUMBER"


class NumberRangeError(TierCacheError, OverflowError):
    """incr or decr whose result leaves the signed 64-bit range (TC_ERR_RANGE)."""

    code_name = "TC_ERR_RANGE"


#: Every class that stands for one TC_ERR_* code.
CODE_CLASSES: tuple[type[TierCacheError], ...] = (
    InvalidArgumentError,
    OutOfMemoryError,
    KindUnavailableError,
    DirectoryNotFoundError,
    DirectoryAccessError,
    UnsupportedFilesystemError,
    LimitReachedError,
    EnvironmentOptionError,
    KindClosedError,
    MapFailedError,
    AllocatorArenaError,
    ForkedProcessError,
    SystemCallError,
    KindBusyError,
    EntryTooLargeError,
    CacheCorruptError,
    CacheClosedError,
    NotANumberError,
    NumberRangeError,
)


class CapacityWarning(UserWarning):
    """A file tier asked for more than its filesystem has free: its budget was cut to fit."""
