"""Declares the Cython extensions (the metadata lives in pyproject.toml).

`pip install --no-deps --no-build-isolation -e dnn-param-encode` compiles them in place; the generated
.c/.so files are git-ignored.
"""

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

CODEC_MODULES = ["arithmeticcoding", "convert", "intdiff", "rans"]

extensions = [
    Extension(
        f"dnn_param_encode.codec.{name}",
        [f"dnn_param_encode/codec/{name}.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
    for name in CODEC_MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False, "cdivision": True},
    )
)
