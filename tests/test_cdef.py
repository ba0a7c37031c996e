"""The cffi declarations (tiercache/_cdef.h) match the public header, and the extension built
from them exposes every public function."""

from __future__ import annotations

import re

from helpers import CACHE_HEADER, CDEF, HEADER, TESTING_HEADER

from tiercache import _bindings, errors
from tiercache._native import lib


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    return re.sub(r"//[^\n]*", " ", text)


def _normalize(decl: str) -> str:
    decl = " ".join(decl.split())
    return re.sub(r"\s*([(),*])\s*", r"\1", decl)


def header_text() -> str:
    """The public headers the cdef mirrors, in order."""
    return HEADER.read_text() + CACHE_HEADER.read_text() + TESTING_HEADER.read_text()


def header_functions() -> dict[str, str]:
    """name -> normalized declaration of every TC_API function in the public headers."""
    text = _strip_comments(header_text())
    decls = [_normalize(d) for d in re.findall(r"\bTC_API\s+([^;#]+);", text)]
    return {re.search(r"(\w+)\((?!\*)", d).group(1): d for d in decls}


def cdef_functions() -> dict[str, str]:
    """name -> normalized declaration of every tc_ function declared in _cdef.h."""
    text = _strip_comments(CDEF.read_text())
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    found = {}
    for stmt in text.split(";"):
        decl = _normalize(stmt)
        match = re.match(r"[\w\s*]*?\b(tc_\w+)\((?!\*)", decl)
        if match and "{" not in decl and not decl.startswith("typedef"):
            found[match.group(1)] = decl
    return found


def enumerators(text: str) -> dict[str, int]:
    text = _strip_comments(text)
    return {name: int(value) for name, value in re.findall(r"\b(TC_\w+)\s*=\s*(-?\d+)", text)}


def test_header_parser_finds_the_public_api():
    """Sanity check of the parser itself: the well-known functions are seen."""
    names = header_functions()
    assert {"tc_malloc", "tc_free", "tc_kind_create_file", "tc_stats_print"} <= set(names)
    assert len(names) >= 20


def test_every_header_function_is_declared_in_cdef_with_the_same_signature():
    cdef = cdef_functions()
    for name, decl in header_functions().items():
        assert name in cdef, f"{name} is in tiercache.h but not in _cdef.h"
        assert cdef[name] == decl, f"{name} differs:\n header: {decl}\n cdef:   {cdef[name]}"


def test_cdef_declares_no_function_missing_from_the_header():
    assert set(cdef_functions()) <= set(header_functions())


def test_enumerators_match_the_header():
    assert enumerators(CDEF.read_text()) == enumerators(header_text())


def test_header_macros_are_declared_in_cdef():
    header = set(re.findall(r"^#define (TC_[A-Z_]+)\s+\S", header_text(), re.MULTILINE))
    header.discard("TC_API")
    cdef = set(re.findall(r"^#define (TC_[A-Z_]+)\s+\.\.\.", CDEF.read_text(), re.MULTILINE))
    assert header == cdef


def test_extension_exposes_every_header_function():
    missing = [name for name in header_functions() if not hasattr(lib, name)]
    assert missing == []


def test_every_error_code_maps_to_its_own_exception_class():
    codes = {n: v for n, v in enumerators(header_text()).items() if n.startswith("TC_ERR_")}
    classes = {cls.code_name: cls for cls in errors.CODE_CLASSES}
    assert set(codes) == set(classes), "errors.CODE_CLASSES must cover every TC_ERR_* code"
    for name, value in codes.items():
        assert _bindings.CLASS_BY_CODE[value] is classes[name]
