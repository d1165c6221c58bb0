"""The method end to end on a small synthetic replica, and the evaluation loop it shares
with ``experiments/``.

:func:`run_demo` generates a few thousand photos with
:func:`dgae.datasets.make_city_world`, describes them with the Im2GPS
descriptors, trains LF / AE / DGAE / fDGAE and scores each with the 1-NN and
Mean-Shift heads.  It downloads nothing.  Layer sizes and iteration counts are
deliberately small (the paper's [2000, 1000, 500] trained for long would not
fit the five-minute budget on two cores), and numbers on the synthetic
replica are not the paper's numbers.
"""
import csv
import time
from pathlib import Path

import numpy as np

from ._metrics import DEFAULT_THRESHOLDS_KM

#: Demo data: small enough for < 5 minutes on 2 CPU cores.  The models are DGAE's defaults
#: (``None`` below: the estimator's own value), which the demo's flags may override.
DEMO_DEFAULTS = dict(n_images=2000, n_test=200, image_size=96, hidden_layer_sizes=None,
                     max_iter=None, gamma=None, learning_rate=None, n_textons=128, random_state=0)


def query_split(n, n_test, random_state=0):
    """Random ``n_test`` query rows and the remaining gallery rows (both sorted).

    Examples
    --------
    >>> q, g = query_split(10, 3)
    >>> len(q), len(g), len(set(q) | set(g))
    (3, 7, 10)
    """
    if not 0 < n_test < n:
        raise ValueError(f"n_test must be in [1, {n - 1}], got {n_test}")
    perm = np.random.default_rng(random_state).permutation(n)
    return np.sort(perm[:n_test]), np.sort(perm[n_test:])


def describe(images, gallery, n_textons=512, n_jobs=None, random_state=0, verbose=0):
    """Im2GPS descriptors of all ``images``, textons and scales fitted on ``gallery`` rows only.

    Returns
    -------
    X : ndarray of shape (n_images, n_features), float32
    seconds : float
    """
    from .features import Im2GPSDescriptor

    t = time.perf_counter()
    desc = Im2GPSDescriptor(n_textons=n_textons, n_jobs=n_jobs, random_state=random_state,
                            verbose=verbose)
    gallery = np.asarray(gallery)
    rest = np.setdiff1d(np.arange(len(images)), gallery)
    Xg = desc.fit_transform([images[i] for i in gallery])  # each photo is described once
    X = np.empty((len(images), Xg.shape[1]), Xg.dtype)
    X[gallery] = Xg
    if len(rest):
        X[rest] = desc.transform([images[i] for i in rest])
    return X, time.perf_counter() - t


def standard_methods(include=("LF", "AE", "DGAE", "fDGAE"), **dgae_params):
    """The paper's comparison rows: ``{name: estimator or None}`` (None: LF, raw features).

    AE is DGAE with ``alpha = beta = 0`` searched on its code (``input_share=0``: the paper's
    baseline); fDGAE is DGAE with the anchor graph.
    ``dgae_params`` set to None are left at DGAE's defaults.

    Examples
    --------
    >>> sorted(standard_methods(max_iter=5))
    ['AE', 'DGAE', 'LF', 'fDGAE']
    """
    from . import DGAE

    params = {k: v for k, v in dgae_params.items() if v is not None}
    every = {
        "LF": None,
        "AE": DGAE(**{**params, "alpha": 0.0, "beta": 0.0, "input_share": 0.0}),
        "DGAE": DGAE(**{**params, "graph": "exact"}),
        "fDGAE": DGAE(**{**params, "graph": "anchor"}),
    }
    return {k: v for k, v in every.items() if k in include}


def _retrieval_codes(est):
    """Whether ``est`` is DGAE-like: a ``transform`` and a ``fit`` that takes ``areas``."""
    import inspect

    return hasattr(est, "transform") and "areas" in inspect.signature(est.fit).parameters


def evaluate_methods(methods, X_gallery, gps_gallery, X_query, gps_query, heads=("1nn", "meanshift"),
                     areas=None, features=None, verbose=0):
    """Fit every method on the gallery, retrieve for the queries with every head.

    Parameters
    ----------
    methods : dict of str -> estimator or None
        DGAE-like estimators (``fit(X, gps, areas=)``, ``transform``: retrieval
        under every head on what their ``predict`` searches -- ``retrieval_features``
        where they have it, else their codes), direct predictors (any other
        ``fit(X, gps)``, ``predict``: :class:`~dgae.CellClassifier`,
        :class:`~dgae.MvMFRegressor`; the same row under every head), or None
        for retrieval on the input features themselves (the LF row).
    X_gallery, gps_gallery, X_query, gps_query : arrays
        Features (n, d) and ``[lat, lon]`` (n, 2) of gallery and queries.
    heads : sequence of {"auto", "1nn", "meanshift", "kde"}
        ``"auto"``: each estimator's own head (``DGAE``'s ``head_``, chosen in
        ``fit``); 1-NN for rows without one (LF, precomputed features).
    areas : array-like of shape (n_gallery,), optional
        Passed to ``fit`` (POIs are mined per area).
    features : dict of str -> (gallery, query) arrays, optional
        Extra rows retrieved on precomputed features (e.g. the CNN row).
    verbose : int

    Returns
    -------
    result : dict
        ``errors``: ``{"<method> <head>": errors_km (n_query,)}``;
        ``predictions``: same keys, ``(n_query, 2)``; ``fit_seconds`` and
        ``predict_seconds``: same keys; ``estimators``: ``{method: fitted}``.
    """
    from . import GeoKNN
    from .metrics import geolocation_errors_km

    out = {"errors": {}, "predictions": {}, "fit_seconds": {}, "predict_seconds": {},
           "estimators": {}}
    def record(key, pred, fit_s, pred_s):
        out["predict_seconds"][key], out["fit_seconds"][key] = pred_s, fit_s
        out["predictions"][key] = pred
        out["errors"][key] = geolocation_errors_km(gps_query, pred)

    rows = {name: est for name, est in methods.items()}
    rows.update({name: ("precomputed", f) for name, f in (features or {}).items()})
    for name, est in rows.items():
        t = time.perf_counter()
        if est is not None and not isinstance(est, tuple) and not _retrieval_codes(est):
            est.fit(X_gallery, gps_gallery)
            fit_s = time.perf_counter() - t
            t = time.perf_counter()
            pred = est.predict(X_query)
            pred_s = time.perf_counter() - t
            for head in heads:  # the head does not apply: the same row in every table
                record(f"{name} {head}", pred, fit_s, pred_s)
            out["estimators"][name] = est
            continue
        if est is None:
            codes_g, codes_q = X_gallery, X_query
        elif isinstance(est, tuple):
            codes_g, codes_q = est[1]
        else:
            if verbose:
                print(f"fitting {name} ...", flush=True)
            est.fit(X_gallery, gps_gallery, areas=areas)
            # what the estimator's own predict searches (DGAE: its chosen retrieval space)
            space = getattr(est, "retrieval_features", est.transform)
            codes_g, codes_q = space(X_gallery), space(X_query)
            out["estimators"][name] = est
        fit_s = time.perf_counter() - t
        for head in heads:
            t = time.perf_counter()
            if head == "auto" and hasattr(est, "head_"):
                pred = est.predict(X_query)    # the head the estimator chose in fit
            else:
                knn_head = "1nn" if head == "auto" else head
                pred = GeoKNN(head=knn_head).fit(codes_g, gps_gallery).predict(codes_q)
            record(f"{name} {head}", pred, fit_s, time.perf_counter() - t)
    return out


def write_predictions(path, gps_query, predictions):
    """Write ``lat,lon,pred_lat,pred_lon,method`` rows (the ``dgae evaluate`` format)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["lat", "lon", "pred_lat", "pred_lon", "method"])
        for method, pred in predictions.items():
            for t, p in zip(gps_query, pred):
                w.writerow([f"{t[0]:.6f}", f"{t[1]:.6f}", f"{p[0]:.6f}", f"{p[1]:.6f}", method])
    return path


def by_head(errors, head):
    """``{method: errors}`` of one head from ``{"<method> <head>": errors}``."""
    return {k.rsplit(" ", 1)[0]: v for k, v in errors.items() if k.endswith(" " + head)}


def head_tables(result, heads, thresholds_km=DEFAULT_THRESHOLDS_KM):
    """One accuracy table per head (the paper's Tables 2 and 3), with fit / predict seconds."""
    from ._report import accuracy_table

    parts = []
    for head in heads:
        extra = {k.rsplit(" ", 1)[0]: {"fit s": f"{result['fit_seconds'][k]:.1f}",
                                       "predict s": f"{result['predict_seconds'][k]:.2f}"}
                 for k in result["errors"] if k.endswith(" " + head)}
        table = accuracy_table(by_head(result["errors"], head), thresholds_km, extra=extra)
        parts.append(f"[{head} head]\n{table}")
    return "\n\n".join(parts)


def run_demo(out_dir="demo_out", heads=("1nn", "meanshift"), n_jobs=-1, verbose=1, **params):
    """Run the whole method on a small synthetic replica; print and write the results.

    Parameters
    ----------
    out_dir : str or path
        Receives ``predictions.csv`` (readable by ``dgae evaluate`` and ``dgae report``),
        ``error_curves_<head>.png`` and ``map.png`` (one panel per method and head, over
        coastlines).
    heads : sequence of str
    n_jobs : int, default=-1
        Descriptor workers (all cores).
    verbose : int
        Progress bars and stage lines when non-zero.
    **params
        Overrides of :data:`DEMO_DEFAULTS`: ``n_images``, ``n_test`` (random
        queries held out of the gallery), ``image_size``,
        ``hidden_layer_sizes``, ``max_iter``, ``gamma``, ``learning_rate``
        (None: DGAE's defaults), ``n_textons``, ``random_state``.

    Returns
    -------
    result : dict
        As :func:`evaluate_methods`, plus ``stage_seconds`` and ``table``.
    """
    from ._report import save_error_curves, save_prediction_map
    from .datasets import make_city_world

    unknown = set(params) - set(DEMO_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown demo parameter(s) {sorted(unknown)}; known: {sorted(DEMO_DEFAULTS)}")
    p = {**DEMO_DEFAULTS, **params}
    n_images, n_test, random_state = p["n_images"], p["n_test"], p["random_state"]

    say = print if verbose else (lambda *a, **k: None)
    stages = {}
    t = time.perf_counter()
    say(f"[1/4] generating {n_images} synthetic photos of 35 areas ...", flush=True)
    world = make_city_world(n_images=n_images, image_size=p["image_size"],
                            random_state=random_state, n_jobs=n_jobs, verbose=verbose)
    stages["generate"] = time.perf_counter() - t
    q, g = query_split(n_images, n_test, random_state)
    say(f"[2/4] Im2GPS descriptors of {n_images} photos ...", flush=True)
    X, stages["describe"] = describe(world.images, g, n_textons=p["n_textons"], n_jobs=n_jobs,
                                     random_state=random_state, verbose=verbose)
    say("[3/4] training AE, DGAE, fDGAE and retrieving ...", flush=True)
    t = time.perf_counter()
    methods = standard_methods(hidden_layer_sizes=p["hidden_layer_sizes"], max_iter=p["max_iter"],
                               gamma=p["gamma"], learning_rate=p["learning_rate"],
                               random_state=random_state, verbose=verbose)
    res = evaluate_methods(methods, X[g], world.gps[g], X[q], world.gps[q], heads=heads,
                           areas=world.area[g], verbose=verbose)
    stages["methods"] = time.perf_counter() - t
    say("[4/4] writing results ...", flush=True)
    out = Path(out_dir)
    write_predictions(out / "predictions.csv", world.gps[q], res["predictions"])
    for head in heads:
        save_error_curves(by_head(res["errors"], head), out / f"error_curves_{head}.png",
                          title=f"synthetic replica, {head} head ({n_test} queries)")
    save_prediction_map({k: (world.gps[q], v) for k, v in res["predictions"].items()},
                        out / "map.png", title=f"synthetic replica: truth → prediction ({n_test} queries)")
    res["table"] = head_tables(res, heads)
    res["stage_seconds"] = stages
    return res
