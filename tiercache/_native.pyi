# The cffi module tiercache._native (built by tiercache/_build_native.py from _cdef.h): its
# ffi and lib are dynamic, typed here as Any; tiercache/_bindings.py gives them types.
from typing import Any

ffi: Any
lib: Any
