"""The six Im2GPS descriptor blocks, computed from one shared working image.

Every photo is resized once (area resampling) to a ``WORK x WORK`` RGB
canvas; the grey image, the half-size grey image, the Lab image and the
texton filter responses are derived from it lazily and shared by the blocks
that need them (:class:`Views`).  Each block is a function
``f(views, textons) -> 1-D float32`` registered in :data:`BLOCKS`.
"""
from functools import cached_property, lru_cache
import threading

import cv2
import numpy as np
import scipy.fft

#: side of the working canvas every photo is resized to (aspect not kept,
#: like tiny images; nothing of the photo is cropped away)
WORK = 256
#: side of the grey image used by texton, edge_hist and gist
HALF = WORK // 2

#: Lab histogram: bins and ranges (a*, b* outside the range go to the end bins)
LAB_BINS = (4, 14, 14)
LAB_RANGES = ((0.0, 100.0), (-100.0, 100.0), (-100.0, 100.0))

#: texton filter bank: Gaussian-derivative scales (pixels of the HALF image)
TEXTON_SCALES = (1.0, 2.0, 4.0)
#: texton responses are assigned on every TEXTON_STRIDE-th pixel
TEXTON_STRIDE = 2
N_TEXTON_FEATURES = 2 * len(TEXTON_SCALES) + 2

#: edge histogram: orientations x log-spaced lengths (pixels of the HALF image)
EDGE_ORIENTATIONS = 8
EDGE_LENGTH_EDGES = np.geomspace(2.0, HALF * np.sqrt(2.0), 30)

#: gist: Gabor scales x orientations, spatial grid, symmetric padding
GIST_SCALES = 4
GIST_ORIENTATIONS = 6
GIST_GRID = 5
GIST_PAD = 16
#: LMgist prefilter cut-off (cycles per image)
GIST_PREFILTER_FC = 4.0


class Views:
    """Lazily derived images of one photo, shared between blocks.

    Parameters
    ----------
    rgb : ndarray of shape (H, W, 3), uint8
        The decoded photo (any size).

    Examples
    --------
    >>> v = Views(np.zeros((10, 20, 3), np.uint8))
    >>> v.rgb.shape, v.grey_half.shape
    ((256, 256, 3), (128, 128))
    """

    def __init__(self, rgb):
        self.source = rgb

    @cached_property
    def rgb(self):
        """The working canvas, float32 RGB in [0, 1], ``(WORK, WORK, 3)``."""
        src = self.source
        if src.shape[:2] != (WORK, WORK):
            src = cv2.resize(src, (WORK, WORK), interpolation=cv2.INTER_AREA)
        return src.astype(np.float32) * np.float32(1.0 / 255.0)

    @cached_property
    def grey(self):
        """Luma of the working canvas, float32 in [0, 1]."""
        return cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)

    @cached_property
    def grey_half(self):
        """Half-size grey image (exact 2x2 means), float32 in [0, 1]."""
        return cv2.resize(self.grey, (HALF, HALF), interpolation=cv2.INTER_AREA)

    @cached_property
    def lab(self):
        """CIE L*a*b* (D65) of the working canvas: L in [0, 100]."""
        return cv2.cvtColor(self.rgb, cv2.COLOR_RGB2Lab)

    @cached_property
    def texton_responses(self):
        """Contrast-normalised filter responses, ``(n_pixels, 8)`` float32."""
        return texton_responses(self.grey_half)


# ----------------------------------------------------------------- tiny images
def thumbnail(rgb, size):
    """Area-averaged ``size x size`` colour thumbnail, flattened (row, column, channel).

    Examples
    --------
    >>> thumbnail(np.ones((10, 10, 3), np.float32), 5).shape
    (75,)
    """
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA).ravel()


# ------------------------------------------------------------- Lab histogram
def lab_histogram(lab):
    """Joint 4 x 14 x 14 L*a*b* histogram, L1-normalised; out-of-range values clip to the end bins.

    Parameters
    ----------
    lab : ndarray of shape (..., 3)

    Returns
    -------
    hist : ndarray of shape (784,), float32 (L-major, then a*, then b*)

    Examples
    --------
    >>> lab_histogram(np.array([[50.0, 0.0, 0.0]])).sum()
    np.float32(1.0)
    """
    pix = lab.reshape(-1, 3)
    flat = np.zeros(len(pix), np.intp)
    for c, (n, (lo, hi)) in enumerate(zip(LAB_BINS, LAB_RANGES)):
        idx = np.floor((pix[:, c] - lo) * (n / (hi - lo))).astype(np.intp)
        flat = flat * n + np.clip(idx, 0, n - 1)
    hist = np.bincount(flat, minlength=int(np.prod(LAB_BINS))).astype(np.float32)
    return hist / np.float32(len(pix))


# ------------------------------------------------------------------ textons
@lru_cache(maxsize=None)
def _gaussian_derivative_kernels(sigma):
    """1-D Gaussian and its first and second derivatives (radius 3 sigma)."""
    r = int(np.ceil(3 * sigma))
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    d1 = -x / sigma ** 2 * g
    d2 = (x ** 2 / sigma ** 4 - 1 / sigma ** 2) * g
    return tuple(k.astype(np.float32) for k in (g, d1, d2))


def _sep(img, kx, ky):
    return cv2.sepFilter2D(img, cv2.CV_32F, kx, ky, borderType=cv2.BORDER_REFLECT)


def texton_responses(grey, stride=TEXTON_STRIDE):
    """Rotation-invariant MR8-style filter responses at every ``stride``-th pixel.

    The bank is the MR8 one built from isotropic, steerable Gaussian
    derivatives: for each scale the maximum over all orientations of the
    oriented edge (first derivative) filter -- the gradient magnitude -- and
    of the oriented bar (second derivative) filter -- the largest absolute
    Hessian eigenvalue --, scale-normalised; plus a Gaussian and a Laplacian
    of Gaussian at the largest scale.  The maxima over a continuum of
    orientations are evaluated in closed form (five separable filters per
    scale) instead of filtering at 6 discrete angles.  The image is first
    standardised, each response vector is then contrast-normalised as in
    Varma & Zisserman (``F <- F log(1 + |F| / 0.03) / |F|``).

    Parameters
    ----------
    grey : ndarray of shape (H, W), float32
    stride : int, default=2

    Returns
    -------
    responses : ndarray of shape (ceil(H/stride) * ceil(W/stride), 8), float32

    Examples
    --------
    >>> texton_responses(np.random.default_rng(0).random((16, 16), np.float32)).shape
    (64, 8)
    """
    grey = np.asarray(grey, np.float32)
    grey = (grey - grey.mean()) / np.float32(grey.std() + 1e-6)
    out = []
    for sigma in TEXTON_SCALES:
        g, d1, d2 = _gaussian_derivative_kernels(sigma)
        gx, gy = _sep(grey, d1, g), _sep(grey, g, d1)
        gxx, gyy, gxy = _sep(grey, d2, g), _sep(grey, g, d2), _sep(grey, d1, d1)
        half_trace = 0.5 * (gxx + gyy)
        radius = np.sqrt((0.5 * (gxx - gyy)) ** 2 + gxy ** 2)
        out.append(sigma * np.sqrt(gx * gx + gy * gy))
        out.append(sigma ** 2 * (np.abs(half_trace) + radius))
    out.append(_sep(grey, g, g))
    out.append(sigma ** 2 * 2 * half_trace)
    resp = np.stack([o[::stride, ::stride] for o in out], axis=-1).reshape(-1, len(out))
    norm = np.sqrt((resp * resp).sum(axis=1, keepdims=True))
    scale = np.log1p(norm / 0.03) / np.maximum(norm, 1e-12)
    return (resp * scale).astype(np.float32)


def nearest_centre(x, centres, chunk=1024):
    """Index of the nearest centre (squared Euclidean) for each row of ``x``, via GEMM.

    ``argmin_k |c_k|^2 - 2 x.c_k`` in cache-sized chunks: one matrix product
    per chunk instead of an ``(n, k, d)`` difference array.

    Parameters
    ----------
    x : ndarray of shape (n, d), float32
    centres : ndarray of shape (k, d), float32

    Returns
    -------
    labels : ndarray of shape (n,), intp

    Examples
    --------
    >>> nearest_centre(np.array([[0.1, 0], [2, 2]], np.float32),
    ...                np.array([[0, 0], [2, 1.9]], np.float32)).tolist()
    [0, 1]
    """
    x = np.asarray(x, np.float32)
    centres = np.asarray(centres, np.float32)
    proj = np.ascontiguousarray(-2.0 * centres.T, dtype=np.float32)
    sq = (centres * centres).sum(axis=1)
    labels = np.empty(len(x), np.intp)
    buf = np.empty((min(chunk, len(x)), len(centres)), np.float32)
    for s in range(0, len(x), chunk):
        part = x[s:s + chunk]
        b = buf[:len(part)]
        np.matmul(part, proj, out=b)
        b += sq
        labels[s:s + chunk] = b.argmin(axis=1)
    return labels


def texton_histogram(responses, textons):
    """L1-normalised histogram of nearest textons.

    Examples
    --------
    >>> texton_histogram(np.zeros((4, 2), np.float32),
    ...                  np.array([[1, 1], [2, 2], [0, 0.1]], np.float32)).tolist()
    [0.0, 0.0, 1.0]
    """
    labels = nearest_centre(responses, textons)
    hist = np.bincount(labels, minlength=len(textons)).astype(np.float32)
    return hist / np.float32(max(len(labels), 1))


# ------------------------------------------------------------ line segments
_LSD = threading.local()


def line_segments(grey_u8):
    """Straight segments ``(n, 4)`` ``x1, y1, x2, y2`` by OpenCV's LSD detector."""
    if not hasattr(_LSD, "detector"):  # one detector per thread (not thread-safe)
        _LSD.detector = cv2.createLineSegmentDetector()
    lines = _LSD.detector.detect(grey_u8)[0]
    return np.zeros((0, 4), np.float32) if lines is None else lines.reshape(-1, 4)


def edge_histogram(segments):
    """Length-weighted 8 orientation x 29 log-length histogram of segments, L1-normalised.

    Orientation bins are centred on 0, 22.5, ..., 157.5 degrees (undirected);
    lengths are binned on :data:`EDGE_LENGTH_EDGES` (out-of-range lengths go
    to the end bins).

    Parameters
    ----------
    segments : ndarray of shape (n, 4)
        ``x1, y1, x2, y2`` per segment.

    Returns
    -------
    hist : ndarray of shape (232,), float32 (orientation-major); zeros if no segment

    Examples
    --------
    >>> h = edge_histogram(np.array([[0, 0, 10, 0], [0, 0, 0, 30]], np.float32))
    >>> float(h.sum()), int(np.flatnonzero(h)[0] // 29), int(np.flatnonzero(h)[1] // 29)
    (1.0, 0, 4)
    """
    seg = np.asarray(segments, np.float64).reshape(-1, 4)
    n_len = len(EDGE_LENGTH_EDGES) - 1
    dx, dy = seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]
    length = np.hypot(dx, dy)
    theta = np.mod(np.arctan2(dy, dx), np.pi)
    o = np.floor(theta / (np.pi / EDGE_ORIENTATIONS) + 0.5).astype(np.intp) % EDGE_ORIENTATIONS
    ln = np.clip(np.searchsorted(EDGE_LENGTH_EDGES, length, side="right") - 1, 0, n_len - 1)
    hist = np.bincount(o * n_len + ln, weights=length, minlength=EDGE_ORIENTATIONS * n_len)
    total = hist.sum()
    return (hist / total if total > 0 else hist).astype(np.float32)


# --------------------------------------------------------------------- gist
@lru_cache(maxsize=8)
def gabor_transfer(shape, n_scales=GIST_SCALES, n_orientations=GIST_ORIENTATIONS):
    """The LMgist Gabor bank as transfer functions on the FFT grid of ``shape``.

    Filter ``(s, o)`` is ``exp(-3.5 (f / f_s - 1)^2 - 2 pi b (theta + o pi / O)^2)``
    with centre frequency ``f_s = 0.3 / 1.85^s`` cycles/pixel and
    ``b = 16 O^2 / 32^2`` (Oliva & Torralba's ``createGabor``).  One-sided in
    orientation, so its spatial kernel is complex (a quadrature pair) and
    ``|response|`` is the local energy.

    Returns
    -------
    G : ndarray of shape (n_scales * n_orientations, H, W), float32
        In ``numpy.fft`` order (zero frequency at [0, 0]); read-only.

    Examples
    --------
    >>> gabor_transfer((32, 32)).shape
    (24, 32, 32)
    """
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    fr = np.hypot(fx, fy)
    t = np.arctan2(fy, fx)
    bank = []
    for s in range(n_scales):
        f0 = 0.3 / 1.85 ** s
        for o in range(n_orientations):
            tr = np.mod(t + np.pi * o / n_orientations + np.pi, 2 * np.pi) - np.pi
            bank.append(np.exp(-10 * 0.35 * (fr / f0 - 1) ** 2
                               - 2 * (16 * n_orientations ** 2 / 32 ** 2) * np.pi * tr ** 2))
    out = np.stack(bank).astype(np.float32)
    out.flags.writeable = False
    return out


def gist_prefilter(grey, fc=GIST_PREFILTER_FC):
    """LMgist prefilter: log, whitening high-pass and local contrast normalisation.

    The Gaussian ``exp(-f^2 / s^2)`` (``s = fc / sqrt(log 2)`` cycles per
    image) of LMgist is applied in the spatial domain (same Gaussian,
    ``sigma = N / (sqrt 2 pi s)`` pixels, symmetric borders).

    Examples
    --------
    >>> float(np.abs(gist_prefilter(np.full((32, 32), 0.5, np.float32))).max()) < 1e-4
    True
    """
    img = np.log1p(np.asarray(grey, np.float32) * np.float32(255.0))
    s = fc / np.sqrt(np.log(2.0))
    sigma = max(img.shape) / (np.sqrt(2.0) * np.pi * s)
    white = img - cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    local = np.sqrt(np.abs(cv2.GaussianBlur(white * white, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)))
    return white / (np.float32(0.2) + local)


def grid_means(maps, grid):
    """Means of ``(..., H, W)`` maps over a ``grid x grid`` partition (LMgist's cell borders).

    Examples
    --------
    >>> grid_means(np.arange(16.0).reshape(4, 4), 2).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    h, w = maps.shape[-2:]
    ry = np.floor(np.linspace(0, h, grid + 1)).astype(int)
    rx = np.floor(np.linspace(0, w, grid + 1)).astype(int)
    sums = np.add.reduceat(np.add.reduceat(maps, ry[:-1], axis=-2), rx[:-1], axis=-1)
    return sums / np.outer(np.diff(ry), np.diff(rx))


def gabor_energy_grid(img, pad=GIST_PAD, grid=GIST_GRID):
    """Mean Gabor energy per filter and grid cell, filtering in the frequency domain.

    The image is padded symmetrically by ``pad`` pixels, multiplied with the
    bank of :func:`gabor_transfer` in the FFT domain (one forward FFT, one
    batched inverse FFT -- circular convolution on the padded image), then
    cropped back and averaged on the grid.

    Parameters
    ----------
    img : ndarray of shape (H, W)
    pad : int
    grid : int

    Returns
    -------
    gist : ndarray of shape (n_filters * grid * grid,), float32 (filter-major)

    Examples
    --------
    >>> gabor_energy_grid(np.zeros((40, 40), np.float32), pad=4).shape
    (600,)
    """
    img = np.asarray(img, np.float32)
    h, w = img.shape
    padded = np.pad(img, pad, mode="symmetric")
    bank = gabor_transfer(padded.shape)
    prod = scipy.fft.fft2(padded)[None] * bank
    # the 2-D inverse FFT as two 1-D passes, cropping between them: the second pass and the
    # magnitude only touch the rows / pixels that are kept (half the time of ifft2 + crop)
    resp = scipy.fft.ifft(prod, axis=-2, overwrite_x=True)[:, pad:pad + h]
    resp = scipy.fft.ifft(resp, axis=-1, overwrite_x=True)[..., pad:pad + w]
    return grid_means(np.abs(resp), grid).astype(np.float32).ravel()


# ----------------------------------------------------------------- registry
def _tiny5(v, textons):
    return thumbnail(v.rgb, 5)


def _tiny16(v, textons):
    return thumbnail(v.rgb, 16)


def _lab_hist(v, textons):
    return lab_histogram(v.lab)


def _texton(v, textons):
    return texton_histogram(v.texton_responses, textons)


def _edge_hist(v, textons):
    grey_u8 = np.clip(v.grey_half * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return edge_histogram(line_segments(grey_u8))


def _gist(v, textons):
    return gabor_energy_grid(gist_prefilter(v.grey_half))


#: block name -> (function(views, textons) -> 1-D float32, default dims;
#: ``None`` for texton, whose size is ``n_textons``)
BLOCKS = {
    "tiny5": (_tiny5, 75),
    "tiny16": (_tiny16, 768),
    "lab_hist": (_lab_hist, int(np.prod(LAB_BINS))),
    "texton": (_texton, None),
    "edge_hist": (_edge_hist, EDGE_ORIENTATIONS * (len(EDGE_LENGTH_EDGES) - 1)),
    "gist": (_gist, GIST_SCALES * GIST_ORIENTATIONS * GIST_GRID ** 2),
}


#: blocks that are histograms (L1-normalised; square-rooted by the Hellinger map)
HISTOGRAM_BLOCKS = frozenset({"lab_hist", "texton", "edge_hist"})


def block_dims(name, n_textons):
    """Length of block ``name``."""
    dims = BLOCKS[name][1]
    return n_textons if dims is None else dims
