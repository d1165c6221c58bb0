"""Im2GPS low-level descriptors (installed as ``dgae.features``).

:class:`Im2GPSDescriptor` turns photos (paths or arrays) into the six
Im2GPS / LASOM blocks of the DGAE paper (tiny images, Lab histogram,
textons, line histogram, gist); :func:`extract_to_npy` streams a large
collection into a resumable ``.npy`` file; :func:`load_image` is the robust
reader they share.
"""
from ._cnn import CNNDescriptor
from ._descriptor import DEFAULT_DESCRIPTORS, Im2GPSDescriptor
from ._extract import ExtractionInterrupted, extract_to_npy, read_errors
from ._io import ImageLoadError, load_image

__all__ = [
    "CNNDescriptor",
    "DEFAULT_DESCRIPTORS",
    "ExtractionInterrupted",
    "ImageLoadError",
    "Im2GPSDescriptor",
    "extract_to_npy",
    "load_image",
    "read_errors",
]
