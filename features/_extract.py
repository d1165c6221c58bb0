"""Streaming, resumable extraction of a photo collection into a ``.npy`` file.

Files written beside ``OUT`` (e.g. ``features.npy``):

* ``OUT`` -- the ``(n, d)`` float32 array, a ``.npy`` memmap filled chunk by chunk;
* ``OUT.done.npy`` -- the per-row done mask, replaced atomically only after
  the rows it marks have been flushed to ``OUT``;
* ``OUT.descriptor.joblib`` -- the fitted :class:`Im2GPSDescriptor`, so a
  resumed run uses the same textons and block scales;
* ``OUT.manifest.json`` -- row count, width and a digest of the sources (a
  resumed run must describe the same photos);
* ``OUT.errors.jsonl`` -- one line per unreadable photo (``on_error="skip"``);
* ``OUT.fit.npy``, ``OUT.fit_rows.npy``, ``OUT.fit_done.npy`` -- while an unfitted descriptor is
  being fitted: the raw rows of the photos it is fitted on (before the scales the fit learns from
  them), which photos they are, and which are written.  Saved like ``OUT``, so that Ctrl-C during
  the fit keeps what was described; removed when the fit ends.
"""
import hashlib
import json
import os
import time
import warnings

import joblib
import numpy as np
from joblib import effective_n_jobs

from dgae.utils import progress, warn

from ._descriptor import Im2GPSDescriptor, as_sources
from ._io import describe_source


#: An extraction saves its finished rows at least this often (seconds), whatever its size.
SAVE_EVERY_S = 30.0
_STEP_PER_WORKER = 16  # photos described per step and worker: a step is what Ctrl-C loses


class ExtractionInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`extract_to_npy`: what was described is saved and resumable.

    Attributes
    ----------
    n_done, n_total : int
        Photos described (kept in ``out`` and its side files) and photos asked for.
    out : str
        The ``.npy`` file; running the same extraction again resumes it.

    Examples
    --------
    >>> e = ExtractionInterrupted(20, 30, "features.npy")
    >>> isinstance(e, KeyboardInterrupt), str(e)
    (True, 'interrupted: 20 of 30 photos described, kept in features.npy')
    >>> str(ExtractionInterrupted(0, 30, "features.npy"))
    'interrupted before any photo of features.npy was described'
    """

    def __init__(self, n_done, n_total, out):
        super().__init__(f"interrupted: {n_done} of {n_total} photos described, kept in {out}"
                         if n_done else f"interrupted before any photo of {out} was described")
        self.n_done, self.n_total, self.out = n_done, n_total, out


def state_paths(out):
    """The side files of an extraction into ``out``.

    Examples
    --------
    >>> sorted(state_paths("f.npy"))
    ['descriptor', 'done', 'errors', 'fit', 'fit_done', 'fit_rows', 'manifest']
    """
    out = os.fspath(out)
    return {"done": out + ".done.npy", "descriptor": out + ".descriptor.joblib",
            "manifest": out + ".manifest.json", "errors": out + ".errors.jsonl",
            "fit": out + ".fit.npy", "fit_rows": out + ".fit_rows.npy",
            "fit_done": out + ".fit_done.npy"}


def _digest(sources):
    h = hashlib.sha1()
    for i, s in enumerate(sources):
        h.update(describe_source(s, i).encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()


def _atomic(path, write):
    tmp = f"{path}.tmp{os.getpid()}"
    write(tmp)
    os.replace(tmp, path)


def _write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def _save_mask(path, mask):
    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, mask)
            f.flush()
            os.fsync(f.fileno())
    _atomic(path, write)


def _in_steps(descriptor):
    """Whether ``descriptor``'s fit can be done in steps (``_begin_fit``, ``_raw_transform``,
    ``_end_fit``), so that the fit photos' rows are saved as they are described."""
    steps = getattr(descriptor, "_fits_in_steps", None)  # a FusedDescriptor: if its parts can
    return hasattr(descriptor, "_begin_fit") and (steps is None or steps())


def _start(sources, out, descriptor, fit_size, random_state, verbose):
    """Create the array and the mask; begin fitting a descriptor that is not fitted.

    An unfitted descriptor is fitted on ``fit_size`` photos drawn at random.  One that fits in
    steps learns what needs no full description here; the fit photos' raw rows are then
    described (and saved) like the others, in ``OUT.fit.npy``.  Any other descriptor is fitted
    at once: returns ``(descriptor, fit_rows, X_fit)`` with the fit photos' rows, written by the
    caller (a gallery of up to ``fit_size`` photos is described once); else ``X_fit`` is None.
    """
    files = state_paths(out)
    if descriptor is None:
        descriptor = Im2GPSDescriptor(on_error="skip", random_state=random_state)
    for key in ("manifest", "errors", "done", "fit", "fit_rows", "fit_done"):
        if os.path.exists(files[key]):
            os.remove(files[key])
    fit_rows, X_fit = np.zeros(0, np.intp), None
    if not is_fitted(descriptor):
        rng = np.random.default_rng(random_state)
        fit_rows = np.sort(rng.choice(len(sources), size=min(fit_size, len(sources)), replace=False))
        sample = [sources[i] for i in fit_rows]
        descriptor.set_params(verbose=verbose)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # unreadable fit photos: skipped
            if _in_steps(descriptor):
                descriptor._begin_fit(sample)
            else:
                X_fit = descriptor.fit_transform(sample)
        if X_fit is None:
            _atomic(files["fit_rows"], lambda tmp: _save_array(tmp, fit_rows))
            _new_array(files["fit"], (len(fit_rows), descriptor.n_features_out_))
            _save_mask(files["fit_done"], np.zeros(len(fit_rows), bool))
    _atomic(files["descriptor"], lambda tmp: joblib.dump(descriptor, tmp))
    _new_array(out, (len(sources), descriptor.n_features_out_))
    _save_mask(files["done"], np.zeros(len(sources), bool))
    # the manifest is written last: its presence marks a complete start
    manifest = {"n_images": len(sources), "n_features": descriptor.n_features_out_,
                "sources_sha1": _digest(sources)}
    _atomic(files["manifest"], lambda tmp: _write_text(tmp, json.dumps(manifest)))
    return descriptor, fit_rows, X_fit


def _save_array(path, array):
    with open(path, "wb") as f:
        np.save(f, array)


def _new_array(path, shape):
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
    arr.flush()
    del arr


def _resume(sources, out, descriptor=None):
    """Load the saved state; check it describes the same photos (with ``descriptor`` if fitted)."""
    files = state_paths(out)
    with open(files["manifest"]) as f:
        manifest = json.load(f)
    if manifest["n_images"] != len(sources) or manifest["sources_sha1"] != _digest(sources):
        raise ValueError(f"{out} was started on other photos ({manifest['n_images']} rows); "
                         "pass overwrite=True to start again")
    saved = joblib.load(files["descriptor"])
    if descriptor is not None and is_fitted(descriptor) and not same_descriptor(saved, descriptor):
        raise ValueError(f"{out} was started with another fitted descriptor; its rows would be "
                         "in another feature space (pass overwrite=True to start again)")
    return saved


#: Parameters that change how a descriptor runs, not what it computes (``engine``: the CNN's
#: engines agree to 1e-4, tests/test_cnn.py).
_RUNTIME_PARAMS = frozenset({"n_jobs", "verbose", "on_error", "random_state", "batch_size",
                             "engine"})


def is_fitted(descriptor):
    """Whether a descriptor (any of ``dgae.features``) is fitted.

    Examples
    --------
    >>> is_fitted(Im2GPSDescriptor())
    False
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(descriptor)
    except NotFittedError:
        return False
    return True


def descriptor_fingerprint(descriptor):
    """A digest of what a fitted descriptor computes: its class, its parameters (not how it
    runs: workers, batch size, ...) and its fitted state, which for an encoder includes the
    digest of its weights (``weights_sha1_``).

    Examples
    --------
    >>> photos = [np.full((8, 8, 3), v, np.uint8) for v in (0, 90, 200)]
    >>> a = Im2GPSDescriptor(descriptors=("tiny5",)).fit(photos)
    >>> descriptor_fingerprint(a) == descriptor_fingerprint(
    ...     Im2GPSDescriptor(descriptors=("tiny5",), n_jobs=2).fit(photos))
    True
    """
    # plain parameters only: an object (a torch module, a child descriptor) is represented by
    # its fitted state (weights_sha1_, the children's own fingerprints), not by its pickle
    parts = {k: v for k, v in descriptor.get_params(deep=False).items()
             if k not in _RUNTIME_PARAMS and _plain(v)}
    parts["children"] = [descriptor_fingerprint(v) for v in _children(descriptor)]
    state = {k: v for k, v in vars(descriptor).items()
             if k.endswith("_") and not k.startswith("_") and k != "errors_"}
    return joblib.hash((type(descriptor).__qualname__, parts, state))


def _plain(value):
    """Whether a parameter value is plain data (numbers, text, and tuples / lists of them)."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, bool, int, float, os.PathLike))


def _children(descriptor):
    """The descriptors inside a composite one (FusedDescriptor), fitted copies first."""
    fitted = getattr(descriptor, "descriptors_", None)
    return list(fitted) if fitted is not None else []


def same_descriptor(a, b):
    """Whether two fitted descriptors map photos to the same features.

    Examples
    --------
    >>> photos = [np.full((8, 8, 3), v, np.uint8) for v in (0, 90, 200)]
    >>> a = Im2GPSDescriptor(descriptors=("tiny5",)).fit(photos)
    >>> same_descriptor(a, Im2GPSDescriptor(descriptors=("tiny5",), n_jobs=2).fit(photos))
    True
    >>> same_descriptor(a, Im2GPSDescriptor(descriptors=("tiny5",)).fit(photos[:2]))
    False
    """
    return type(a) is type(b) and descriptor_fingerprint(a) == descriptor_fingerprint(b)


def extract_to_npy(images, out, descriptor=None, *, chunk_size=1024, fit_size=2000, n_jobs=None,
                   overwrite=False, verbose=0, random_state=0):
    """Describe a photo collection into a ``.npy`` file, chunk by chunk, resumably.

    A run that is interrupted (killed, crashed, Ctrl-C) and started again
    with the same arguments continues where it stopped: rows whose chunk was
    flushed are never recomputed, and the result is identical to an
    uninterrupted run.

    Parameters
    ----------
    images : sequence of str, os.PathLike or ndarray
        The photos, in output row order.
    out : str or os.PathLike
        The ``.npy`` file (side files described in the module docstring are
        written beside it).
    descriptor : Im2GPSDescriptor, optional
        Fitted or not.  Not fitted: fitted on ``fit_size`` photos drawn at
        random (``random_state``).  Default:
        ``Im2GPSDescriptor(on_error="skip", random_state=random_state)``.
        When resuming, the saved one is used (a fitted ``descriptor`` that
        differs from it is refused).
    chunk_size : int, default=1024
        Rows flushed and marked done together at most; finished rows are also saved
        every ``SAVE_EVERY_S`` (30) seconds, so an interruption loses at most that much work.
    fit_size : int, default=2000
        Photos the descriptor is fitted on when it is not fitted; their features are kept
        (a collection of up to ``fit_size`` photos is described once).
    n_jobs : int, optional
        Overrides the descriptor's ``n_jobs`` (joblib; honours
        :func:`joblib.parallel_config`, e.g. ``backend="dask"``).
    overwrite : bool, default=False
        Start again even if ``out`` holds a (finished or unfinished) run.
    verbose : int, default=0
        Progress bar.
    random_state : int, default=0

    Returns
    -------
    features : numpy.memmap of shape (n, d), float32, read-only
        NaN rows for unreadable photos (listed in ``OUT.errors.jsonl``).

    Raises
    ------
    ValueError
        ``out`` exists without resumable state, or its state was made for
        other photos (and ``overwrite`` is False).
    ExtractionInterrupted
        Ctrl-C (a ``KeyboardInterrupt``): the rows finished so far are saved first.

    Examples
    --------
    >>> import tempfile, os
    >>> rng = np.random.default_rng(0)
    >>> photos = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(5)]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     X = extract_to_npy(photos, os.path.join(tmp, "f.npy"), chunk_size=2,
    ...                        descriptor=Im2GPSDescriptor(descriptors=("tiny5",)))
    ...     X.shape, bool(np.isfinite(X).all())
    ((5, 75), True)
    """
    sources = as_sources(images)
    out = os.fspath(out)
    files = state_paths(out)
    resumable = all(os.path.exists(files[k]) for k in ("done", "descriptor", "manifest"))
    ours = os.path.exists(files["descriptor"])  # an unfinished start of ours may be redone
    if os.path.exists(out) and not (overwrite or resumable or ours):
        raise ValueError(f"{out} exists and holds no resumable run; pass overwrite=True")
    fit_rows, X_fit = np.zeros(0, np.intp), None
    try:
        if resumable and not overwrite:
            descriptor = _resume(sources, out, descriptor)
        else:
            descriptor, fit_rows, X_fit = _start(sources, out, descriptor, fit_size, random_state,
                                                 verbose)
    except KeyboardInterrupt:  # while the descriptor learned what needs no full description
        raise ExtractionInterrupted(0, len(sources), out) from None
    descriptor.set_params(verbose=0, **({} if n_jobs is None else {"n_jobs": n_jobs}))
    done = np.load(files["done"])
    arr = np.load(out, mmap_mode="r+")
    if X_fit is not None:  # the photos the fit described are not described again
        _store(arr, done, files["done"], fit_rows, X_fit, _error_log(files, fit_rows),
               descriptor.errors_)
    step = min(chunk_size, _STEP_PER_WORKER * effective_n_jobs(descriptor.n_jobs))
    fitting = os.path.exists(files["fit"])
    fit_done = np.load(files["fit_done"]) if fitting else np.zeros(0, bool)
    with progress(total=len(sources), initial=int(done.sum() + fit_done.sum()), verbose=verbose,
                  desc="extract", unit="photo") as bar:
        if fitting:  # the fit photos' raw rows, then the end of the fit
            fit_rows = np.load(files["fit_rows"])
            raw = np.load(files["fit"], mmap_mode="r+")
            try:
                _describe(raw, fit_done, files["fit_done"],
                          _runner(descriptor._raw_transform, sources, fit_rows),
                          _error_log(files, fit_rows), bar, step, chunk_size)
            except KeyboardInterrupt:
                raise ExtractionInterrupted(int(fit_done.sum()), len(sources), files["fit"]) from None
            _end_fit(descriptor, files, arr, done, fit_rows, raw)
        try:
            everyone = np.arange(len(sources))
            _describe(arr, done, files["done"], _runner(descriptor.transform, sources, everyone),
                      _error_log(files, everyone), bar, step, chunk_size)
        except KeyboardInterrupt:
            raise ExtractionInterrupted(int(done.sum()), len(sources), out) from None
    del arr
    n_errors = len(read_errors(out))
    if n_errors:
        warn(f"{n_errors} of {len(sources)} photos could not be read; their rows are NaN "
             f"(see {files['errors']})")
    return np.load(out, mmap_mode="r")


def _describe(arr, done, mask, transform, log, bar, step, chunk_size):
    """Describe the rows of ``arr`` not ``done`` (``transform(rows) -> (X, errors)``), ``step``
    at a time; the rows and ``done`` (into ``mask``) are saved every ``chunk_size`` rows or
    ``SAVE_EVERY_S`` seconds, whichever comes first, and on Ctrl-C before it propagates."""
    todo = np.flatnonzero(~done)
    saved = time.monotonic()
    try:
        for s in range(0, len(todo), step):
            idx = todo[s:s + step]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # one warning at the end instead
                rows, errors = transform(idx)
            flush = (s + step) % chunk_size < step or time.monotonic() - saved >= SAVE_EVERY_S
            _store(arr, done, mask, idx, rows, log, errors, save=flush)
            saved = time.monotonic() if flush else saved
            bar.update(len(idx))
    finally:
        arr.flush()
        _save_mask(mask, done)


def _runner(method, sources, index):
    """``rows -> (X, errors)``: a descriptor's ``method`` on the photos ``index[rows]``."""
    def run(rows):
        X = method([sources[i] for i in index[rows]])
        return X, getattr(method.__self__, "errors_", [])
    return run


def _end_fit(descriptor, files, arr, done, fit_rows, raw):
    """Learn the scales from every fit photo's raw row; store their rows; remove the fit files.

    Redone from the raw rows if interrupted (the scales are a function of them)."""
    X = descriptor._end_fit(np.array(raw))
    del raw
    _atomic(files["descriptor"], lambda tmp: joblib.dump(descriptor, tmp))
    _store(arr, done, files["done"], fit_rows, X, None, [])
    for key in ("fit", "fit_rows", "fit_done"):  # "fit" first: its presence marks the fit
        os.remove(files[key])


def _error_log(files, index):
    """Log errors ``(j, source, reason)`` of rows ``rows`` as their photos' indices ``index[rows]``."""
    def log(rows, errors):
        with open(files["errors"], "a") as f:
            for j, name, reason in errors:
                f.write(json.dumps({"index": int(index[rows[j]]), "source": name, "reason": reason})
                        + "\n")
    return log


def _store(arr, done, mask, idx, rows, log, errors, save=True):
    """Write described rows, log their errors; flush and save the done mask when ``save``."""
    arr[idx] = rows
    if errors:
        log(idx, errors)
    done[idx] = True
    if save:
        arr.flush()
        _save_mask(mask, done)


def read_errors(out):
    """The unreadable photos of an extraction into ``out``: ``{index: (source, reason)}``.

    A chunk redone after a crash may have logged its errors twice; each
    index is listed once.

    Examples
    --------
    >>> read_errors("no/such/features.npy")
    {}
    """
    path = state_paths(out)["errors"]
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {r["index"]: (r["source"], r["reason"]) for r in rows}
