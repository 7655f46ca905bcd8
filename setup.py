"""Build script for fastconv's compiled parts.

The C core in ``src_c/`` is compiled once into object files, each ISA's
micro-kernels with their own flags (``-mavx2 -mfma``, ``-mavx512f``) and
everything else for the baseline of the target, then linked into every
Cython extension ``fastconv/_*.pyx``.  OpenMP is detected by compiling a tiny
program; without it the core builds serially with a warning.

Environment switches:
  FASTCONV_SANITIZE=address,undefined   build with ASan/UBSan (see scripts/run_sanitized.sh)
  FASTCONV_NO_OPENMP=1                   build without OpenMP
  FASTCONV_BUILD_JOBS=N                  compile the C core N files at a time (default: CPU count)

Rebuilds recompile only the C files whose object is older than the file, one of
the headers it includes, or a change of flags.
"""
import glob
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_C = "src_c"

IS_MSVC_LIKE = sys.platform == "win32"
MACHINE = platform.machine().lower()
IS_X86_64 = MACHINE in ("x86_64", "amd64", "x64")
if sys.platform == "darwin":
    # cibuildwheel cross-builds arm64 from x86_64 and vice versa
    archflags = os.environ.get("ARCHFLAGS", "")
    if "arm64" in archflags and "x86_64" not in archflags:
        IS_X86_64 = False
    elif "x86_64" in archflags and "arm64" not in archflags:
        IS_X86_64 = True

ISA_FLAGS_GCC = {
    "avx2": ["-mavx2", "-mfma"],
    "avx512": ["-mavx512f", "-mavx2", "-mfma"],
}
ISA_FLAGS_MSVC = {"avx2": ["/arch:AVX2"], "avx512": ["/arch:AVX512"]}


def sanitizers():
    value = os.environ.get("FASTCONV_SANITIZE", "").strip()
    return [s for s in value.split(",") if s]


def openmp_flags(compiler):
    """Return (compile_args, link_args) enabling OpenMP, or ([], []) with a warning."""
    if os.environ.get("FASTCONV_NO_OPENMP"):
        return [], []
    if compiler.compiler_type == "msvc":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    code = (
        "#include <omp.h>\n"
        "int main(void) { int n = 0;\n"
        "#pragma omp parallel reduction(+:n)\n"
        "n += 1;\n"
        "return n > 0 ? 0 : 1; }\n"
    )
    for cflags, lflags in candidates:
        tmp = tempfile.mkdtemp()
        try:
            src = os.path.join(tmp, "probe_openmp.c")
            with open(src, "w") as f:
                f.write(code)
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
            compiler.link_executable(objs, "probe_openmp", output_dir=tmp, extra_postargs=lflags)
            return cflags, lflags
        except Exception:  # noqa: BLE001 - any failure means "no OpenMP here"
            continue
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    warnings.warn(
        "fastconv: the C compiler has no working OpenMP; building a serial "
        "(single-threaded) library. Install libgomp/libomp for parallel kernels.",
        stacklevel=1,
    )
    return [], []


class BuildExt(build_ext):
    """Compile the C core once (per-ISA flags per file) and link it into every extension."""

    def build_extensions(self):
        compiler = self.compiler
        msvc = compiler.compiler_type == "msvc"
        omp_c, omp_l = openmp_flags(compiler)
        if msvc:
            base = ["/O2", "/fp:precise"]
        else:
            base = ["-O3", "-fvisibility=hidden", "-fno-math-errno", "-Wall", "-Wno-unknown-pragmas"]
            if sys.platform != "darwin":
                base.append("-fno-semantic-interposition")
        link = list(omp_l)
        san = sanitizers()
        if san and not msvc:
            flag = "-fsanitize=" + ",".join(san)
            base = [f for f in base if not f.startswith("-O")] + ["-O1", "-g", "-fno-omit-frame-pointer", flag]
            link.append(flag)
        macros = [("FC_HAVE_X86_KERNELS", "1")] if IS_X86_64 else []

        groups = {"base": []}
        for path in sorted(glob.glob(os.path.join(SRC_C, "**", "*.c"), recursive=True)):
            name = os.path.basename(path)
            if "_avx512" in name:
                key = "avx512"
            elif "_avx2" in name:
                key = "avx2"
            else:
                key = "base"
            if key != "base" and not IS_X86_64:
                continue
            groups.setdefault(key, []).append(path)

        build_temp = os.path.join(self.build_temp, "src_c")
        jobs = []  # (source, output_dir, flags)
        for key, sources in groups.items():
            flags = list(base) + list(omp_c)
            if key != "base":
                flags += (ISA_FLAGS_MSVC if msvc else ISA_FLAGS_GCC)[key]
            for src in sources:
                jobs.append((src, os.path.join(build_temp, key), flags))
        objects = self._compile_core(compiler, jobs, macros, stamp=repr((base, omp_c, macros, san)))

        # Sanitized builds compile the Cython glue (7 MB of generated C) at -O0:
        # five times faster to build, and the C core keeps -O1.
        ext_base = ["-O0" if f == "-O1" else f for f in base] if san and not msvc else list(base)
        for ext in self.extensions:
            ext.extra_objects = list(objects)
            ext.extra_compile_args = ext_base + list(omp_c) + ["-Wno-unused-function"] * (not msvc)
            ext.extra_link_args = list(link)
            ext.define_macros = list(ext.define_macros or []) + macros
        self.fastconv_build_info = {"openmp": bool(omp_c), "sanitize": san}
        self._core_stamp_ok = self._same_stamp(repr((base, omp_c, macros, san)))
        super().build_extensions()

    def build_extension(self, ext):
        # Relink when a core object changed; recompile the Cython-generated C only
        # when it is newer than its object (or the flags changed).
        ext.depends = list(ext.depends or []) + [o for o in ext.extra_objects if o not in (ext.depends or [])]
        compile_ = self.compiler.compile

        def cached(sources, output_dir=None, **kw):
            objs = self.compiler.object_filenames(sources, output_dir=output_dir)
            if self._core_stamp_ok and not self.force and all(
                    os.path.exists(o) and os.path.getmtime(o) >= os.path.getmtime(s) for s, o in zip(sources, objs)):
                return objs
            return compile_(sources, output_dir=output_dir, **kw)

        self.compiler.compile = cached
        try:
            super().build_extension(ext)
        finally:
            self.compiler.compile = compile_

    def _same_stamp(self, stamp):
        path = os.path.join(self.build_temp, "src_c", "flags.stamp")
        return os.path.exists(path) and open(path).read() == stamp


    def _compile_core(self, compiler, jobs, macros, stamp):
        """Compile the C core: only sources whose object is older than the source,
        one of the headers it includes (transitively) or the flags, two at a time."""
        from concurrent.futures import ThreadPoolExecutor

        def deps(path, seen):
            for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"', open(path).read(), re.M):
                for d in (os.path.dirname(path), SRC_C):
                    cand = os.path.normpath(os.path.join(d, inc))
                    if os.path.exists(cand):
                        if cand not in seen:
                            seen.add(cand)
                            deps(cand, seen)
                        break
            return seen

        stamp_file = os.path.join(self.build_temp, "src_c", "flags.stamp")
        same_flags = not self.force and self._same_stamp(stamp)

        def one(job):
            src, out_dir, flags = job
            obj = compiler.object_filenames([src], output_dir=out_dir)[0]
            if same_flags and os.path.exists(obj):
                t = os.path.getmtime(obj)
                if all(os.path.getmtime(f) <= t for f in deps(src, {src})):
                    return obj
            return compiler.compile([src], output_dir=out_dir, macros=macros,
                                    include_dirs=[SRC_C], extra_postargs=flags)[0]

        workers = max(1, min(len(jobs), int(os.environ.get("FASTCONV_BUILD_JOBS", os.cpu_count() or 1))))
        with ThreadPoolExecutor(workers) as pool:
            objects = list(pool.map(one, jobs))
        os.makedirs(os.path.dirname(stamp_file), exist_ok=True)
        with open(stamp_file, "w") as f:
            f.write(stamp)
        return objects


def extensions():
    exts = []
    for pyx in sorted(glob.glob(os.path.join("fastconv", "_*.pyx"))):
        modname = "fastconv." + os.path.splitext(os.path.basename(pyx))[0]
        exts.append(Extension(
            modname, [pyx],
            include_dirs=[np.get_include(), SRC_C],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
        ))
    return cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
