"""TC_ERR_* codes become specific Python exceptions with tc_strerror's message."""

from __future__ import annotations

import errno

import pytest

from tiercache import _bindings, errors
from tiercache._native import ffi, lib


@pytest.mark.parametrize("cls", errors.CODE_CLASSES, ids=lambda c: c.code_name)
def test_each_code_raises_its_class_with_context_and_message(cls):
    code = getattr(lib, cls.code_name)
    ffi.errno = 0  # no failed call precedes this check: clear what earlier tests left
    with pytest.raises(cls) as info:
        _bindings.check(code, "doing something", "/some/dir")
    exc = info.value
    assert type(exc) is cls
    assert exc.code == code
    assert exc.path == "/some/dir"
    assert str(exc).startswith("doing something: ")
    assert (
        str(exc).endswith(_bindings.strerror(code))
        or cls is errors.SystemCallError
        or cls is errors.EnvironmentOptionError
    )


def test_every_code_has_a_distinct_message():
    messages = [_bindings.strerror(getattr(lib, c.code_name)) for c in errors.CODE_CLASSES]
    assert all(messages)
    assert len(set(messages)) == len(messages)


def test_ok_does_not_raise():
    _bindings.check(lib.TC_OK, "nothing")


def test_unknown_code_raises_the_base_class_naming_the_code():
    with pytest.raises(errors.TierCacheError, match=r"code -999") as info:
        _bindings.check(-999, "future error")
    assert type(info.value) is errors.TierCacheError


def test_standard_exception_bases():
    """Callers can catch tiercache errors with the standard exception that fits."""
    assert issubclass(errors.OutOfMemoryError, MemoryError)
    assert issubclass(errors.InvalidArgumentError, ValueError)
    assert issubclass(errors.DirectoryNotFoundError, FileNotFoundError)
    assert issubclass(errors.DirectoryAccessError, PermissionError)
    assert all(issubclass(c, errors.TierCacheError) for c in errors.CODE_CLASSES)


def test_system_error_carries_errno():
    """TC_ERR_SYSTEM reports the errno left by the failing call."""
    ffi.errno = errno.EIO
    exc = _bindings.error_for(lib.TC_ERR_SYSTEM, "syncing")
    assert isinstance(exc, errors.SystemCallError)
    assert exc.errno == errno.EIO
