"""Im2GPS low-level descriptors (installed as ``dgae.features``).

:class:`Im2GPSDescriptor` turns photos (paths or arrays) into the six
Im2GPS / LASOM blocks of the DGAE paper (tiny images, Lab histogram,
textons, line histogram, gist); :func:`extract_to_npy` streams a large
collection into a resumable ``.npy`` file; :func:`load_image` is the robust
reader they share.
"""
from ._blocks import BLOCKS, WORK, Views
from ._cnn import (CNN_ENGINES, CNN_MODELS, CNNDescriptor, cnn_available, cuda_available,
                   onnx_available)
from ._descriptor import DEFAULT_DESCRIPTORS, Im2GPSDescriptor, block_scales, hellinger_map
from ._encoders import (IMAGENET_MEAN, IMAGENET_STD, ONNXEncoder, OpenCLIPEncoder, PhotoEncoder,
                        TimmEncoder, TorchEncoder)
from ._extract import ExtractionInterrupted, extract_to_npy, is_fitted, read_errors, state_paths
from ._fused import DESCRIPTOR_NAMES, FusedDescriptor, make_descriptor, make_fused_descriptor
from ._io import ImageLoadError, load_image

__all__ = [
    "BLOCKS",
    "WORK",
    "Views",
    "cnn_available",
    "cuda_available",
    "onnx_available",
    "CNN_ENGINES",
    "hellinger_map",
    "CNNDescriptor",
    "CNN_MODELS",
    "ONNXEncoder",
    "OpenCLIPEncoder",
    "PhotoEncoder",
    "TimmEncoder",
    "TorchEncoder",
    "DEFAULT_DESCRIPTORS",
    "DESCRIPTOR_NAMES",
    "FusedDescriptor",
    "make_descriptor",
    "make_fused_descriptor",
    "ExtractionInterrupted",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageLoadError",
    "Im2GPSDescriptor",
    "block_scales",
    "extract_to_npy",
    "is_fitted",
    "load_image",
    "read_errors",
    "state_paths",
]
