"""Build a sanitized copy of the tiercache package for running the Python tests under ASan+UBSan
or TSan:  python scripts/build_sanitized_python.py {asan|tsan}

Output: build/sanitized-py/<mode>/tiercache/, the package's Python files (symlinks) beside
_native and _fastpath compiled with -fsanitize and linked against native/build-<mode>'s
libtiercache.a. Put that directory first on PYTHONPATH and preload the sanitizer runtime
(CPython itself is not instrumented); `make test-python-asan` and `make test-python-tsan` do.
Prints the runtime library to preload.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
FLAGS = {
    "asan": "-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all",
    "tsan": "-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan",
}
RUNTIME = {"asan": "libasan.so", "tsan": "libtsan.so"}


def run(cmd: list[str], **kw) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    subprocess.run(cmd, check=True, env=env, **kw)


def main(mode: str) -> None:
    flags = FLAGS[mode]
    build = f"build-{mode}"
    run(
        [
            "make",
            "-s",
            "-C",
            str(NATIVE),
            "-j2",
            f"BUILD={build}",
            "JE_BUILD=build/jemalloc",
            f"SANITIZE={flags}",
            f"{build}/lib/libtiercache.a",
        ]
    )
    out = ROOT / "build" / "sanitized-py" / mode
    pkg = out / "tiercache"
    pkg.mkdir(parents=True, exist_ok=True)
    for src in (ROOT / "tiercache").iterdir():
        if src.suffix in (".py", ".h", ".typed"):
            link = pkg / src.name
            if not link.is_symlink():
                link.symlink_to(src)

    # The cffi module, from the package's own build script pointed at the sanitized archive
    # (loaded by path, so that importing it does not import the normal extension).
    spec = importlib.util.spec_from_file_location("_tc_build", ROOT / "tiercache/_build_native.py")
    build_native = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_native)
    build_native.STATIC_LIB = NATIVE / build / "lib" / "libtiercache.a"
    ffi = build_native.make_ffibuilder()
    os.environ["CFLAGS"] = f"-O1 -g {flags}"
    os.environ["LDFLAGS"] = flags
    ffi.compile(tmpdir=str(out), verbose=False)

    # The fast path, compiled the same way (tiercache/_fastpath*.c, as in setup.py).
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-O1",
            "-g",
            *flags.split(),
            f"-I{sysconfig.get_paths()['include']}",
            f"-I{NATIVE / 'include'}",
            *sorted(str(p) for p in (ROOT / "tiercache").glob("_fastpath*.c")),
            "-o",
            str(pkg / f"_fastpath{suffix}"),
        ]
    )
    runtime = subprocess.run(
        ["gcc", f"-print-file-name={RUNTIME[mode]}"], check=True, capture_output=True, text=True
    ).stdout.strip()
    print(runtime)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in FLAGS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(FLAGS)}}}")
    main(sys.argv[1])
