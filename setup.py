"""Build of fastloss's compiled core.

One extension, ``fastloss._cpu._kernels``: the Cython binding compiled together with the
C kernels of ``csrc/``.  The kernels are built three times (baseline x86-64, AVX2+FMA,
AVX-512) through ``#pragma GCC target`` in their own files and chosen at run time, so the
default build carries no native-architecture flag and the wheel runs on any x86-64 CPU.

OpenMP is detected by compiling and running a small program.  Without it the build goes
on serially with a warning; ``FASTLOSS_REQUIRE_OPENMP=1`` turns that into an error.
"""
import glob
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

OPENMP_TEST = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel num_threads(2) reduction(+:n)
    n += 1;
    printf("%d\n", n);
    return n == 2 ? 0 : 1;
}
"""


def _compiler():
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shlex.split(cc)


def detect_openmp():
    """Return the flags that compile and run an OpenMP program, or None."""
    tmp = tempfile.mkdtemp(prefix="fastloss-omp-")
    try:
        src = os.path.join(tmp, "omp.c")
        exe = os.path.join(tmp, "omp")
        with open(src, "w") as f:
            f.write(OPENMP_TEST)
        for flags in (["-fopenmp"], ["-Xpreprocessor", "-fopenmp", "-lomp"]):
            try:
                subprocess.run(_compiler() + flags + [src, "-o", exe], check=True,
                               capture_output=True, timeout=120)
                out = subprocess.run([exe], check=True, capture_output=True, timeout=60)
                if out.stdout.strip() == b"2":
                    return flags
            except (OSError, subprocess.SubprocessError):
                continue
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def openmp_flags():
    flags = detect_openmp()
    if flags is None:
        msg = ("fastloss: OpenMP was not found (a test program did not compile or run); "
               "building the kernels single-threaded.")
        if os.environ.get("FASTLOSS_REQUIRE_OPENMP", "") not in ("", "0"):
            sys.exit(msg + " FASTLOSS_REQUIRE_OPENMP is set: stopping.")
        warnings.warn(msg)
        print("WARNING: " + msg, file=sys.stderr)
        return [], []
    compile_flags = [f for f in flags if not f.startswith("-l")]
    link_flags = [f for f in flags if f.startswith("-l")] or flags
    return compile_flags, link_flags


omp_compile, omp_link = openmp_flags()

csrc = os.path.join("csrc")
c_sources = [os.path.join(csrc, name) for name in (
    "driver.c", "kernels_baseline.c", "kernels_avx2.c", "kernels_avx512.c")]

# Accuracy-preserving flags only: no -ffast-math (it would break NaN and inf handling).
# -fno-trapping-math lets GCC if-convert the selects of fl_math.h (we never read FP
# exception flags); -fopenmp-simd honours `#pragma omp simd` even without OpenMP.
# -ffp-contract=off: GCC would fuse a * b + c into an FMA differently in each inlined
# variant of a loop (value only, value and gradient), so the value would depend on
# whether the gradient was asked for; fl_math.h writes its FMAs explicitly instead.
extra_compile = ["-O3", "-std=c11", "-ffp-contract=off", "-fno-math-errno",
                 "-fno-trapping-math", "-fopenmp-simd", "-Wno-unused-function"] + omp_compile
if os.environ.get("FASTLOSS_VEC_REPORT"):
    extra_compile.append("-fopt-info-vec-missed")

extensions = [
    Extension(
        "fastloss._cpu._kernels",
        sources=[os.path.join("fastloss", "_cpu", "_kernels.pyx")] + c_sources,
        depends=sorted(glob.glob(os.path.join(csrc, "*.h")) + glob.glob(os.path.join(csrc, "*.def"))),
        include_dirs=[csrc, np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                       ("FL_OPENMP_BUILD", "1" if omp_compile else "0")],
        extra_compile_args=extra_compile,
        extra_link_args=omp_link,
    )
]

class parallel_build_ext(build_ext):
    """Compile the extension's sources in parallel (one job per CPU): the three per-ISA
    kernel files dominate the build and are independent."""

    def build_extension(self, ext):
        compiler = self.compiler
        jobs = max(1, min(len(ext.sources), os.cpu_count() or 1))

        def compile(sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                    extra_preargs=None, extra_postargs=None, depends=None):
            macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
                output_dir, macros, include_dirs, sources, depends, extra_postargs)
            cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)

            def one(obj):
                if obj in build:
                    src, ext_ = build[obj]
                    compiler._compile(obj, src, ext_, cc_args, extra_postargs, pp_opts)

            with ThreadPoolExecutor(jobs) as pool:
                list(pool.map(one, objects))
            return objects

        if jobs > 1 and hasattr(compiler, "_setup_compile") and hasattr(compiler, "_compile"):
            compiler.compile = compile
        super().build_extension(ext)


setup(
    cmdclass={"build_ext": parallel_build_ext},
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
