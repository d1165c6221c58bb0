"""``GeoPipeline``: photos in, positions out, and a batch is never lost to one bad photo.

The model ``dgae fit`` writes.  A scikit-learn ``Pipeline(descriptor, estimator)`` whose
``predict`` / ``predict_details`` describe the photos with ``on_error="skip"``: a photo that
cannot be read gets NaN coordinates and its reason in ``error``, with one warning that counts
them, while the rest of the batch is predicted.  ``dgae predict`` calls ``predict_details``,
so Python and the command line give the same answer.
"""
import copy
import warnings

import joblib
import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch

from .utils import warn


class GeoPipeline(Pipeline):
    """``Pipeline(descriptor, geolocating estimator)`` that keeps a batch with unreadable photos.

    Parameters
    ----------
    steps : list of (str, estimator)
        Two steps: a photo descriptor (e.g. :class:`dgae.features.Im2GPSDescriptor`)
        and a :class:`dgae.DGAE` or :class:`dgae.GeoKNN`.
    **kwargs
        As :class:`sklearn.pipeline.Pipeline`.

    Examples
    --------
    >>> import numpy as np
    >>> from dgae import GeoKNN, GeoPipeline
    >>> from dgae.features import Im2GPSDescriptor
    >>> rng = np.random.default_rng(0)
    >>> photos = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(6)]
    >>> gps = [[45.0 + i, 15.0] for i in range(6)]
    >>> model = GeoPipeline([("descriptor", Im2GPSDescriptor(descriptors=("tiny5",))),
    ...                      ("knn", GeoKNN(head="1nn"))]).fit(photos, gps)
    >>> d = model.predict_details(photos[:2] + ["no/such/photo.jpg"])
    >>> d.gps[:2].tolist(), bool(np.isnan(d.gps[2]).all()), d.error[2]
    ([[45.0, 15.0], [46.0, 15.0]], True, 'file not found')
    """

    def predict(self, X, **params):
        """Positions of photos; NaN rows (with one warning) for photos that cannot be read.

        Parameters
        ----------
        X : sequence of str, os.PathLike or ndarray
            Photos.

        Returns
        -------
        gps : ndarray of shape (n, 2)
        """
        if params:
            return super().predict(X, **params)
        return self.predict_details(X).gps

    def predict_details(self, X, top_k=0, verbose=0, cache=None, n_jobs=None):
        """The estimator's ``predict_details`` on photos, with an ``error`` per photo.

        Parameters
        ----------
        X : sequence of str, os.PathLike or ndarray
            Photos.
        top_k : int, default=0
        verbose : int, default=0
        cache : str or path, optional
            A ``.npy`` file the photos' features are written to, resumably
            (:func:`dgae.features.extract_to_npy`): a run interrupted with Ctrl-C
            and started again continues where it stopped.
        n_jobs : int, optional
            Descriptor workers.

        Returns
        -------
        details : sklearn.utils.Bunch
            As :meth:`dgae.GeoKNN.predict_details`, a row per photo; a photo
            that could not be read has NaN ``gps``, ``match_distance``,
            ``confidence``, ``confidence_seen`` and ``topk``, and its reason in
            ``error`` (object array of str, "" where the photo was read).
        """
        X, errors, _ = describe_photos(X, self[0], cache, verbose=verbose, n_jobs=n_jobs)
        return details_of_rows(self[-1], np.asarray(X), errors, top_k=top_k, verbose=verbose)


def describe_photos(photos, descriptor, cache=None, *, verbose=0, n_jobs=None, random_state=0):
    """Describe photos without ever raising on a bad one (what ``predict`` and ``dgae fit`` use).

    Parameters
    ----------
    photos : sequence of str, os.PathLike or ndarray
    descriptor : a descriptor of ``dgae.features``
        Copied, never modified.  Fitted: used as is; not fitted: fitted on the photos (through
        ``cache``, as :func:`dgae.features.extract_to_npy` does).
    cache : str or path, optional
        The resumable ``.npy`` file of :func:`dgae.features.extract_to_npy`; without it the
        photos are described in memory (the descriptor must then be fitted).
    verbose, n_jobs, random_state
        Passed on.

    Returns
    -------
    X : ndarray or numpy.memmap of shape (n, n_features)
        NaN rows for photos that could not be read (no warning: the caller counts them).
    errors : dict of int -> str
        Why each of those rows could not be read.
    descriptor : the fitted descriptor (with a cache: the one the extraction saved)
    """
    from .features import extract_to_npy, read_errors
    from .features import state_paths

    descriptor = copy.deepcopy(descriptor)
    descriptor.set_params(on_error="skip")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r".*could not be read", UserWarning)
        if cache is not None:
            X = extract_to_npy(photos, cache, descriptor, verbose=verbose, n_jobs=n_jobs,
                               random_state=random_state)
            return (X, {i: reason for i, (_, reason) in read_errors(cache).items()},
                    joblib.load(state_paths(cache)["descriptor"]))
        descriptor.set_params(verbose=verbose, **({} if n_jobs is None else {"n_jobs": n_jobs}))
        X = descriptor.transform(photos)
    return X, {j: reason for j, _, reason in getattr(descriptor, "errors_", [])}, descriptor


def details_of_rows(estimator, X, errors=None, top_k=0, verbose=0):
    """``estimator.predict_details`` on the finite rows of ``X``; NaN and a reason for the rest.

    Parameters
    ----------
    estimator : fitted DGAE or GeoKNN
    X : array-like of shape (n, n_features)
        Rows with NaN (photos that could not be described) are not predicted.
    errors : dict of int -> str, optional
        Why a row could not be described (default: "not finite").
    top_k, verbose : int

    Returns
    -------
    details : sklearn.utils.Bunch
        ``gps``, ``match_distance``, ``confidence``, ``confidence_seen``, ``topk``,
        ``confidence_km`` and ``error`` (object array of str), a row per row of ``X``.

    Examples
    --------
    >>> from dgae import GeoKNN
    >>> knn = GeoKNN(head="1nn").fit([[0.0], [1.0]], [[45, 15], [46, 16]])
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     d = details_of_rows(knn, [[0.9], [np.nan]])
    >>> d.gps.tolist()[0], d.error.tolist(), str(w[0].message)
    ([46.0, 16.0], ['', 'not finite'], '1 of 2 photos could not be read; their predictions are NaN (see error)')
    """
    X = np.asarray(X, dtype=np.float32)
    errors = dict(errors or {})
    ok = np.isfinite(X).all(axis=1)
    rows = np.flatnonzero(ok)
    n = len(X)
    if len(rows):
        got = estimator.predict_details(X[rows], top_k=top_k, verbose=verbose)
    else:
        got = Bunch(gps=np.zeros((0, 2)), match_distance=np.zeros(0), confidence=np.zeros(0),
                    confidence_seen=np.zeros(0), topk=np.zeros((0, int(top_k), 2)),
                    confidence_km=estimator._confidence_km())
    out = Bunch(confidence_km=got.confidence_km)
    for key in ("gps", "match_distance", "confidence", "confidence_seen", "topk"):
        values = np.asarray(got[key], dtype=np.float64)
        full = np.full((n,) + values.shape[1:], np.nan)
        full[rows] = values
        out[key] = full
    out["error"] = np.array([errors.get(i, "not finite") if not ok[i] else "" for i in range(n)],
                            dtype=object)
    if not ok.all():
        warn(f"{int((~ok).sum())} of {n} photos could not be read; their predictions "
             "are NaN (see error)", UserWarning)
    return out
