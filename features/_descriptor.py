"""``Im2GPSDescriptor``: the six Im2GPS / LASOM low-level descriptors as a scikit-learn transformer."""
import os
import warnings
from contextlib import contextmanager
from numbers import Integral

import cv2
import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.cluster import MiniBatchKMeans
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from dgae.utils import progress, warn

from ._blocks import BLOCKS, HISTOGRAM_BLOCKS, N_TEXTON_FEATURES, Views, block_dims
from ._io import describe_source, load_image

#: the default descriptor set, in the order of the concatenation
DEFAULT_DESCRIPTORS = ("tiny5", "tiny16", "lab_hist", "texton", "edge_hist", "gist")
#: images per joblib task
_BATCH = 16
#: pixels sampled from all fit images together for the texton k-means
_TEXTON_SAMPLE_BUDGET = 100_000


def as_sources(images):
    """A list of image sources from a sequence of paths / arrays or a stacked array.

    Parameters
    ----------
    images : sequence of (str, os.PathLike, ndarray) or ndarray
        Paths or arrays; a numeric ``(n, H, W)`` or ``(n, H, W, C)`` array is
        a stack of ``n`` images; a 1-D array of strings is a list of paths.

    Returns
    -------
    sources : list

    Raises
    ------
    ValueError
        A single path, a 2-D numeric array (ambiguous) or no image at all.

    Examples
    --------
    >>> len(as_sources(np.zeros((3, 8, 8), np.uint8)))
    3
    """
    if isinstance(images, (str, bytes, os.PathLike)):
        raise ValueError("images must be a sequence of paths or arrays, not a single path; "
                         "wrap it in a list")
    if isinstance(images, np.ndarray):
        if images.dtype.kind in "OUS":
            if images.ndim != 1:
                raise ValueError(f"an array of paths must be 1-D, got shape {images.shape}")
        elif images.ndim not in (3, 4):
            raise ValueError("a numeric array of images must be (n, H, W) or (n, H, W, C), got "
                             f"shape {images.shape}; pass a list to describe a single image")
    sources = list(images)
    if not sources:
        raise ValueError("no images given")
    return sources


def _batches(n, n_jobs):
    """(start, stop) spans: at most _BATCH photos, at least ~4 tasks per worker."""
    size = int(np.clip(-(-n // (4 * effective_n_jobs(n_jobs))), 1, _BATCH))
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _load_views(src, index):
    """(Views, None) or (None, (index, name, reason)) for one source."""
    try:
        return Views(load_image(src)), None
    except Exception as exc:  # every failure is reported, none loses the batch
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        return None, (index, describe_source(src, index), reason)


@contextmanager
def _single_threaded():
    """OpenCV's and BLAS's thread pools off for per-photo work: the arrays are small (a
    threaded 4096 x 8 x 512 GEMM is several times slower than a serial one on a busy
    machine), and parallelism comes from one process per core (``n_jobs``)."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        cv2.setNumThreads(previous)


def _describe_batch(sources, start, names, textons, n_out):
    """Raw descriptor rows of a batch (NaN rows for failures) and its errors."""
    with _single_threaded():
        return _describe_rows(sources, start, names, textons, n_out)


def _describe_rows(sources, start, names, textons, n_out):
    out = np.full((len(sources), n_out), np.nan, np.float32)
    errors = []
    for i, src in enumerate(sources):
        views, err = _load_views(src, start + i)
        if err is None:
            try:
                out[i] = np.concatenate([BLOCKS[n][0](views, textons) for n in names])
            except Exception as exc:
                err = (start + i, describe_source(src, start + i), f"{type(exc).__name__}: {exc}")
        if err is not None:
            errors.append(err)
    return out, errors


def _texton_sample_batch(sources, start, seeds, per_image):
    """Random texton-response samples of a batch (an empty array for failures)."""
    samples, errors = [], []
    with _single_threaded():
        for i, src in enumerate(sources):
            views, err = _load_views(src, start + i)
            if err is not None:
                errors.append(err)
                continue
            resp = views.texton_responses
            rng = np.random.default_rng(seeds[i])
            samples.append(resp[rng.choice(len(resp), size=min(per_image, len(resp)), replace=False)])
    return samples, errors


def hellinger_map(X, slices):
    """Square-root the histogram blocks of ``X`` in place (Euclidean -> Hellinger distance).

    Parameters
    ----------
    X : ndarray of shape (n, d), float32
    slices : dict of str -> slice

    Returns
    -------
    X : the same array

    Examples
    --------
    >>> hellinger_map(np.array([[0.25, 0.25]]), {"lab_hist": slice(0, 1), "tiny5": slice(1, 2)}).tolist()
    [[0.5, 0.25]]
    """
    for name, s in slices.items():
        if name in HISTOGRAM_BLOCKS:
            np.sqrt(X[:, s], out=X[:, s])
    return X


def block_scales(X, slices, weights=None):
    """Per-block factors giving block ``b`` a share ``w_b`` of the expected squared distance.

    The mean squared Euclidean distance between two distinct rows of a block
    is ``E_b = 2 * sum_j var_j`` (unbiased variances); the factor
    ``sqrt(w_b / E_b)`` makes it ``w_b`` (1 by default).  Rows with a NaN are
    ignored; a constant block (or fewer than 2 rows) keeps the factor 1.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    slices : dict of str -> slice
    weights : dict of str -> float, optional

    Returns
    -------
    scales : dict of str -> float

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [2.0, 4.0]])
    >>> block_scales(X, {"a": slice(0, 1), "b": slice(1, 2)}, {"b": 4.0})
    {'a': 0.5, 'b': 0.5}
    """
    good = X[np.isfinite(X).all(axis=1)]
    scales = {}
    for name, s in slices.items():
        block = good[:, s].astype(np.float64)
        expected = 2.0 * block.var(axis=0, ddof=1).sum() if len(block) > 1 else 0.0
        weight = 1.0 if weights is None else float(weights.get(name, 1.0))
        scales[name] = float(np.sqrt(weight / expected)) if expected > 1e-12 else 1.0
    return scales


class Im2GPSDescriptor(TransformerMixin, BaseEstimator):
    """Im2GPS low-level descriptors of photos (Hays & Efros; DGAE paper §6.1).

    Each photo is decoded (JPEGs at reduced size), resized once to a
    256 x 256 working canvas and described by up to six blocks, concatenated
    in the order of ``descriptors``:

    ==========  ============================================================  =====
    name        what                                                          dims
    ==========  ============================================================  =====
    tiny5       5x5x3 colour thumbnail (area resampling), RGB in [0, 1]         75
    tiny16      16x16x3 colour thumbnail                                       768
    lab_hist    joint L*a*b* histogram, 4 L x 14 a x 14 b, L1-normalised       784
    texton      histogram over ``n_textons`` textons (MR8-style filter bank,   512
                k-means dictionary learned in ``fit``), L1-normalised
    edge_hist   LSD line segments: 8 orientations x 29 log lengths,            232
                length-weighted, L1-normalised
    gist        Oliva-Torralba gist: prefiltered grey, 4 scales x 6            600
                orientations Gabor energy (FFT domain) on a 5x5 grid
    ==========  ============================================================  =====

    2,971 dimensions in all with the defaults.

    Parameters
    ----------
    descriptors : tuple of str, default=("tiny5", "tiny16", "lab_hist", "texton", "edge_hist", "gist")
        Blocks to compute, in output order.
    n_textons : int, default=512
        Size of the texton dictionary.
    hellinger : bool, default=True
        Replace the histogram blocks (lab_hist, texton, edge_hist) by their
        element-wise square root, so that the Euclidean distance between
        them is the Hellinger distance -- much better than L2 on histograms
        (on croatia: Lab alone 23.5 -> 42.0 % @ 1 km).
    normalize_blocks : bool, default=True
        Scale each block so that, on the fit photos, the mean squared
        Euclidean distance between two photos is 1 for every block (or
        ``block_weights[name]``): every block then weighs the same in a plain
        Euclidean k-NN.
    block_weights : dict of str -> float, default=None
        Share of the expected squared distance given to each named block
        when ``normalize_blocks`` (missing names: 1).
    on_error : {"raise", "skip"}, default="raise"
        ``"raise"``: an unreadable photo raises ``ValueError`` naming the file
        and the reason.  ``"skip"``: it gets a NaN row, is listed in
        ``errors_`` and one warning gives the count.
    n_jobs : int, default=None
        Worker processes (joblib; ``None`` means 1 unless inside a
        :func:`joblib.parallel_config` context, e.g. ``backend="dask"`` to run
        on a Dask cluster).
    verbose : int, default=0
        Show a progress bar.
    random_state : int, RandomState instance or None, default=None
        Texton pixel sampling and k-means.

    Attributes
    ----------
    feature_slices_ : dict of str -> slice
        Columns of each block in the output.
    n_features_out_ : int
    textons_ : ndarray of shape (n_textons, 8), float32
        Texton dictionary (``(0, 8)`` when ``"texton"`` is not computed).
    hellinger_ : bool
        ``hellinger`` as fitted (what ``transform`` applies).
    block_scales_ : dict of str -> float
        Factor applied to each raw block (all 1.0 when ``normalize_blocks``
        is False).
    errors_ : list of (int, str, str)
        ``(index, source, reason)`` of the photos the last ``fit`` /
        ``transform`` call could not read (``on_error="skip"``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> photos = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    >>> desc = Im2GPSDescriptor(n_textons=8, random_state=0).fit(photos)
    >>> desc.n_features_out_, desc.feature_slices_["gist"]
    (2467, slice(1867, 2467, None))
    >>> desc.transform(photos).shape
    (3, 2467)
    """

    _parameter_constraints = {
        "descriptors": [list, tuple],
        "n_textons": [Interval(Integral, 2, None, closed="left")],
        "hellinger": ["boolean"],
        "normalize_blocks": ["boolean"],
        "block_weights": [dict, None],
        "on_error": [StrOptions({"raise", "skip"})],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(self, descriptors=DEFAULT_DESCRIPTORS, n_textons=512, hellinger=True,
                 normalize_blocks=True, block_weights=None, on_error="raise", n_jobs=None,
                 verbose=0, random_state=None):
        self.descriptors = descriptors
        self.n_textons = n_textons
        self.hellinger = hellinger
        self.normalize_blocks = normalize_blocks
        self.block_weights = block_weights
        self.on_error = on_error
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------ helpers
    def _names(self):
        names = tuple(self.descriptors)
        unknown = [n for n in names if n not in BLOCKS]
        if unknown or not names or len(set(names)) != len(names):
            raise ValueError(f"descriptors must be distinct names among {tuple(BLOCKS)}, "
                             f"got {self.descriptors!r}")
        return names

    def _run_batches(self, func, sources, args, desc):
        """Run ``func(batch, start, *args(start, stop))`` over batches; (results, errors)."""
        spans = _batches(len(sources), self.n_jobs)
        # workers may have been started from another working directory: relative paths are
        # anchored to this process's; errors name each photo as it was given
        anchored = [os.path.abspath(s) if isinstance(s, (str, os.PathLike)) else s for s in sources]
        tasks = (delayed(func)(anchored[a:b], a, *args(a, b)) for a, b in spans)
        results, errors = [], []
        with progress(total=len(sources), verbose=self.verbose, desc=desc, unit="photo") as bar:
            for (a, b), (res, errs) in zip(spans, Parallel(n_jobs=self.n_jobs, return_as="generator")(tasks)):
                errs = [(j, describe_source(sources[j], j), reason) for j, _, reason in errs]
                if errs and self.on_error == "raise":
                    _, name, reason = errs[0]
                    raise ValueError(f"{name}: {reason}")
                results.append(res)
                errors.extend(errs)
                bar.update(b - a)
        return results, errors

    def _record_errors(self, errors, n):
        self.errors_ = sorted(errors)
        if errors:
            warn(f"{len(errors)} of {n} images could not be read; their rows are NaN "
                 "(see errors_)", UserWarning)

    def _raw_blocks(self, sources, names):
        """The blocks as computed, concatenated (errors recorded in ``errors_``)."""
        n_out = sum(block_dims(n, len(self.textons_)) for n in names)
        blocks, errors = self._run_batches(_describe_batch, sources,
                                   lambda a, b: (names, self.textons_, n_out), "descriptors")
        self._record_errors(errors, len(sources))
        return np.concatenate(blocks)

    def _fit_textons(self, sources, rng):
        if "texton" not in self._names():
            return np.zeros((0, N_TEXTON_FEATURES), np.float32)
        seeds = rng.randint(2 ** 31, size=len(sources))
        per_image = max(-(-_TEXTON_SAMPLE_BUDGET // len(sources)), -(-4 * self.n_textons // len(sources)))
        parts, _ = self._run_batches(_texton_sample_batch, sources,
                             lambda a, b: (seeds[a:b], per_image), "texton sample")
        sample = [s for part in parts for s in part]
        if not sample:
            raise ValueError("no readable image to learn the textons from")
        sample = np.concatenate(sample)
        km = MiniBatchKMeans(n_clusters=self.n_textons, n_init=1, batch_size=4096,
                             random_state=rng.randint(2 ** 31))
        # k-means threads follow n_jobs: unbounded OpenMP threads on a busy machine are ~20x slower
        with warnings.catch_warnings(), threadpool_limits(effective_n_jobs(self.n_jobs)):
            warnings.simplefilter("ignore")  # few distinct pixels (flat photos) only warn
            km.fit(sample)
        return km.cluster_centers_.astype(np.float32)

    def _check_weights(self, names):
        weights = self.block_weights or {}
        bad = {k: v for k, v in weights.items()
               if k not in names or not np.isfinite(v) or v < 0}
        if bad:
            raise ValueError(f"block_weights must map computed block names to finite weights >= 0, "
                             f"got {bad!r}")
        return weights

    def _unscaled_features(self, sources, names):
        """Raw blocks, Hellinger-mapped if set; the block scales are not applied yet."""
        X = self._raw_blocks(sources, names)
        return hellinger_map(X, self.feature_slices_) if self.hellinger_ else X

    def _apply_block_scales(self, X):
        """Multiply each block by its fitted scale, in place."""
        for n, s in self.block_scales_.items():
            X[:, self.feature_slices_[n]] *= np.float32(s)
        return X

    # ------------------------------------------- the fit in steps (extract_to_npy saves each)
    @_fit_context(prefer_skip_nested_validation=True)
    def _begin_fit(self, sources):
        """Learn what needs no full description (the textons); ``_raw_transform`` works after."""
        names = self._names()
        self._check_weights(names)
        self.__dict__.pop("block_scales_", None)  # not fitted until _end_fit
        self.textons_ = self._fit_textons(sources, check_random_state(self.random_state))
        self.hellinger_ = bool(self.hellinger)
        dims = [block_dims(n, len(self.textons_)) for n in names]
        ends = np.cumsum(dims)
        self.feature_slices_ = {n: slice(int(e - d), int(e)) for n, d, e in zip(names, dims, ends)}
        self.n_features_out_ = int(ends[-1])

    def _raw_transform(self, images):
        """The rows before the block scales (the fit photos' are what ``_end_fit`` learns from)."""
        return self._unscaled_features(as_sources(images), tuple(self.feature_slices_))

    def _end_fit(self, X):
        """Learn the block scales on the fit photos' raw rows; return them scaled (in place)."""
        names = tuple(self.feature_slices_)
        self.block_scales_ = (block_scales(X, self.feature_slices_, self._check_weights(names))
                              if self.normalize_blocks else {n: 1.0 for n in names})
        return self._apply_block_scales(X)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "block_scales_")

    # ---------------------------------------------------------------- API
    def _fit(self, images):
        sources = as_sources(images)
        self._begin_fit(sources)
        return self._end_fit(self._raw_transform(sources))

    def fit(self, images, y=None):
        """Learn the texton dictionary and the block scales.

        Parameters
        ----------
        images : sequence of str, os.PathLike or ndarray
            Photos (paths, ``(H, W, 3)`` uint8 RGB or ``(H, W)`` grey arrays).
        y : None
            Ignored.

        Returns
        -------
        self : Im2GPSDescriptor
        """
        self._fit(images)
        return self

    def fit_transform(self, images, y=None):
        """Fit, then return the descriptors of the fit photos (computed once).

        Returns
        -------
        X : ndarray of shape (n_images, n_features_out_), float32
        """
        return self._fit(images)

    def transform(self, images):
        """Describe photos.

        Parameters
        ----------
        images : sequence of str, os.PathLike or ndarray

        Returns
        -------
        X : ndarray of shape (n_images, n_features_out_), float32
            NaN rows for unreadable photos when ``on_error="skip"``.
        """
        check_is_fitted(self, "block_scales_")
        X = self._unscaled_features(as_sources(images), tuple(self.feature_slices_))
        return self._apply_block_scales(X)

    def get_feature_names_out(self, input_features=None):
        """Output column names, ``"<block>_<i>"``.

        Returns
        -------
        names : ndarray of shape (n_features_out_,), object
        """
        check_is_fitted(self, "feature_slices_")
        return np.asarray([f"{n}_{i}" for n, s in self.feature_slices_.items()
                           for i in range(s.stop - s.start)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # the input is a sequence of images
        return tags
