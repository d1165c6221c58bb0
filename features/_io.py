"""Robust photo loading: paths or arrays -> ``uint8`` RGB.

OpenCV decodes (libjpeg-turbo) at full size by default, so a path and its
decoded array give the same pixels and hence the same descriptors; a
DCT-domain reduced-size decode is opt-in (``min_side``).  Pillow reads only
the header (format, size, EXIF orientation) and is the fallback decoder for
what OpenCV refuses, which also gives the human-readable reason for a broken
file.
"""
import io
import os
import warnings

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

#: JPEG reduced-decode factors and their OpenCV flags (colour, EXIF ignored:
#: reduced decoding does not apply the orientation, so it is applied here
#: for every path alike).
_REDUCED_FLAGS = {
    8: cv2.IMREAD_REDUCED_COLOR_8,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    1: cv2.IMREAD_COLOR,
}

# EXIF orientation -> (number of 90-degree counter-clockwise turns, mirror first)
_EXIF_OPS = {2: (0, True), 3: (2, False), 4: (2, True), 5: (1, True),
             6: (3, False), 7: (3, True), 8: (1, False)}


class ImageLoadError(ValueError):
    """A photo that cannot be read; the message names the file and the reason.

    Attributes
    ----------
    source : str
        The file (or a description of the array).
    reason : str
        Why it cannot be read.

    Examples
    --------
    >>> err = ImageLoadError("a.jpg", "empty file (0 bytes)")
    >>> str(err), isinstance(err, ValueError)
    ('a.jpg: empty file (0 bytes)', True)
    """

    def __init__(self, source, reason):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason

    def __reduce__(self):  # picklable across joblib workers
        return type(self), (self.source, self.reason)


def describe_source(src, index=None):
    """A short printable name for an image source (a path or an array).

    Examples
    --------
    >>> describe_source("a/b.jpg")
    'a/b.jpg'
    >>> describe_source(np.zeros((2, 3), np.uint8), index=4)
    'array #4 of shape (2, 3)'
    """
    if isinstance(src, np.ndarray):
        where = "" if index is None else f" #{index}"
        return f"array{where} of shape {src.shape}"
    return os.fspath(src)


def to_rgb_uint8(arr):
    """Any grey / RGB / RGBA array (uint8, uint16, bool or float in [0, 1]) -> ``uint8`` RGB.

    Parameters
    ----------
    arr : ndarray of shape (H, W), (H, W, 1), (H, W, 2), (H, W, 3) or (H, W, 4)
        Grey, grey+alpha, RGB or RGBA; alpha is dropped.

    Returns
    -------
    rgb : ndarray of shape (H, W, 3), uint8

    Raises
    ------
    ValueError
        Wrong shape, an empty image, an unsupported dtype, or a float image outside [0, 1].

    Examples
    --------
    >>> to_rgb_uint8(np.full((2, 2), 65535, np.uint16))[0, 0].tolist()
    [255, 255, 255]
    >>> to_rgb_uint8(np.full((2, 2), 128.0))
    Traceback (most recent call last):
    ...
    ValueError: a float image must lie in [0, 1] (scikit-image's convention), got values in [128, 128]; divide 0-255 values by 255 or pass uint8
    """
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] in (1, 2):
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ValueError(f"an image must be (H, W) grey or (H, W, 3|4) colour, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"empty image of shape {arr.shape}")
    arr = _to_uint8(arr)
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr[..., :3])


def _to_uint8(arr):
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return (arr >> 8).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError("image contains NaN or inf")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:  # scikit-image's convention: a float image lies in [0, 1]
            raise ValueError(f"a float image must lie in [0, 1] (scikit-image's convention), got "
                             f"values in [{lo:g}, {hi:g}]; divide 0-255 values by 255 or pass uint8")
        return np.rint(arr * 255.0).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):  # 32-bit PIL 'I' images and the like
        return np.clip(arr, 0, 255).astype(np.uint8)
    raise ValueError(f"unsupported image dtype {arr.dtype}")


def _orient(rgb, orientation):
    turns, mirror = _EXIF_OPS.get(orientation, (0, False))
    if mirror:
        rgb = rgb[:, ::-1]
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns or mirror else rgb


def _read_header(data):
    """Pillow header: (format, (width, height), EXIF orientation)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                try:
                    orientation = int(im.getexif().get(0x0112, 1))
                except Exception:  # a broken EXIF block must not lose the photo
                    orientation = 1
                return im.format, im.size, orientation
        except UnidentifiedImageError:
            raise ValueError("not a recognised image format") from None
        except Image.DecompressionBombError:
            return "HUGE", (1 << 20, 1 << 20), 1


def _pillow_decode(data):
    """Fallback decoder; its exception text is the reason reported."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                if im.mode not in ("L", "RGB", "I", "I;16", "I;16B", "I;16L", "F"):
                    im = im.convert("RGB")
                arr = np.asarray(im)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise ValueError(f"cannot decode ({exc})") from None
    if im.mode == "F":  # float images: assume [0, 255] like Pillow's own conversion
        arr = arr / 255.0
    elif im.mode.startswith("I;16"):
        arr = arr.astype(np.uint16)
    return to_rgb_uint8(arr)


def reduce_factor(width, height, min_side):
    """Largest JPEG DCT reduction (1, 2, 4 or 8) keeping both sides >= ``min_side``.

    Examples
    --------
    >>> reduce_factor(640, 640, 256), reduce_factor(10000, 10000, 256), reduce_factor(300, 900, 256)
    (2, 8, 1)
    """
    for factor in (8, 4, 2):
        if min(width, height) >= factor * min_side:
            return factor
    return 1


def _read_path(path, min_side):
    if not os.path.exists(path):
        raise ValueError("file not found")
    if os.path.isdir(path):
        raise ValueError("is a directory, not an image file")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ValueError("empty file (0 bytes)")
    fmt, (width, height), orientation = _read_header(data.tobytes())
    factor = 1
    if fmt == "HUGE":  # past twice Pillow's decompression-bomb limit: never at full size
        factor = 8
    elif fmt in ("JPEG", "MPO"):
        if min_side is not None:
            factor = reduce_factor(width, height, min_side)
        # past Pillow's limit (~89 Mpx): the smallest reduction that fits under it
        limit = Image.MAX_IMAGE_PIXELS or np.inf
        while factor < 8 and (width // factor) * (height // factor) > limit:
            factor *= 2
    with warnings.catch_warnings():
        bgr = cv2.imdecode(data, _REDUCED_FLAGS[factor] | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None:
        rgb = _pillow_decode(data.tobytes())
    else:
        rgb = to_rgb_uint8(bgr[..., ::-1] if bgr.ndim == 3 else bgr)
    return _orient(rgb, orientation)


def load_image(src, min_side=None):
    """Read one photo as ``uint8`` RGB.

    Parameters
    ----------
    src : str, os.PathLike or ndarray
        A file path (any format OpenCV or Pillow reads: JPEG incl. CMYK and
        EXIF-rotated, PNG incl. 16-bit, grey, RGBA, ...) or an array accepted
        by :func:`to_rgb_uint8`.
    min_side : int, optional
        Opt-in fast path: JPEGs are decoded at 1/2, 1/4 or 1/8 size (in the
        DCT domain, much faster for large photos) as long as both sides stay
        at least this large.  The pixels then differ from a full decode, and
        so do the descriptors (the edge histogram by ~50 % relative on
        Croatia photos), so the default (None) decodes at full size: a path
        and the array any standard decoder makes of it give the same pixels.
        JPEGs past Pillow's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``,
        ~89 Mpx) are decoded at the smallest reduction that fits under it,
        and at 1/8 past twice the limit.

    Returns
    -------
    rgb : ndarray of shape (H, W, 3), uint8
        Upright (EXIF orientation applied); alpha dropped.

    Raises
    ------
    ImageLoadError
        A ``ValueError`` whose message names the file and the reason: file
        not found, empty file, not a recognised image format, cannot decode
        (e.g. a truncated JPEG), bad array shape or dtype.

    Examples
    --------
    >>> load_image(np.zeros((4, 5), np.uint8)).shape
    (4, 5, 3)
    >>> try:
    ...     load_image("no/such/photo.jpg")
    ... except ValueError as exc:
    ...     print(exc)
    no/such/photo.jpg: file not found
    """
    try:
        if isinstance(src, np.ndarray):
            return to_rgb_uint8(src)
        if not isinstance(src, (str, bytes, os.PathLike)):
            raise ValueError(f"expected a path or an ndarray, got {type(src).__name__}")
        return _read_path(os.fsdecode(src), min_side)
    except ImageLoadError:
        raise
    except (ValueError, OSError, cv2.error) as exc:
        raise ImageLoadError(describe_source(src), str(exc)) from None
