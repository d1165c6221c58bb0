"""``dgae predict``: geolocate photos (or feature rows) with a fitted model.

``dgae predict MODEL PHOTOS.csv|FOLDER --out predictions.csv`` describes the
queries with the model's own descriptor (a model written by ``dgae fit`` is a
``Pipeline(descriptor, dgae)``) and writes, per photo, ``path, pred_lat,
pred_lon, match_distance, confidence, confidence_km`` (see
:meth:`dgae.GeoKNN.predict_details`: for a DGAE, the calibrated probability
that the error is at most ``confidence_km``), the ``--top-k`` candidates when asked,
and ``error`` for a photo that could not be read (its other columns empty;
the rest of the batch is kept).  ``--truth exif`` adds ``lat, lon,
error_km`` from each photo's EXIF GPS where present.

``dgae predict MODEL FEATURES.npy --out predictions.csv [--photos PHOTOS.csv]``
(the older form) predicts rows of extracted features.
"""
from ._common import (
    HelpFormatter,
    add_cluster_flags,
    add_seed,
    add_verbosity,
    check_output,
    describe,
    failed_rows,
    list_images,
    load_model,
    split_model,
    verbosity,
)


def add_parser(subparsers):
    """Register ``predict``.

    Examples
    --------
    >>> from dgae.cli import build_parser
    >>> build_parser().parse_args(["predict", "m.joblib", "q.csv", "--out", "p.csv"]).top_k
    0
    """
    p = subparsers.add_parser(
        "predict", help="geolocate the photos of a CSV or a folder with a fitted model",
        formatter_class=HelpFormatter,
        description="Write path,pred_lat,pred_lon,match_distance,confidence,confidence_km per "
                    "query photo.")
    p.add_argument("model", help="a model written by dgae fit (or joblib.dump of a DGAE/GeoKNN "
                                 "or a Pipeline ending in one)")
    p.add_argument("queries", help="PHOTOS.csv (a path column), a FOLDER of photos, or FEATURES.npy")
    p.add_argument("--out", required=True, help="predictions CSV")
    p.add_argument("--photos", default=None,
                   help="with FEATURES.npy: CSV whose path column names the rows")
    p.add_argument("--head", choices=("1nn", "meanshift", "kde"), default=None,
                   help="override the model's head (DGAE: at the gallery's widths)")
    p.add_argument("--top-k", type=int, default=0, help="also write the k best candidates")
    p.add_argument("--truth", choices=("exif",), default=None,
                   help="exif: compare with each photo's EXIF GPS where present")
    p.add_argument("--cache", default=None,
                   help="resumable feature file of the queries (None: a temporary one)")
    p.add_argument("--n-jobs", type=int, default=None, help="descriptor workers (-1: all cores)")
    add_cluster_flags(p)
    add_seed(p)
    add_verbosity(p)
    p.set_defaults(func=_predict)
    return p


def _query_paths(queries):
    import os

    if os.path.isdir(queries):
        return list_images(queries)
    from ._fit import read_photos

    return read_photos(queries).paths


def _query_features(args, descriptor):
    """(names, X, bad mask, errors {row: reason}) of the queries."""
    import os
    import tempfile

    import numpy as np

    from dgae.features._extract import read_errors

    if args.queries.endswith(".npy"):
        X = np.load(args.queries, mmap_mode="r")
        names = list(range(X.shape[0]))
        if args.photos:
            from ._fit import read_photos

            names = read_photos(args.photos, X.shape[0], args.queries).paths
        return names, X, failed_rows(X, "feature rows", "not finite"), {}
    if descriptor is None:
        raise ValueError(f"{args.model} holds no descriptor (it was fitted on a feature file); "
                         "give the queries as FEATURES.npy made with the same descriptor")
    names = _query_paths(args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or os.path.join(tmp, "queries.npy")
        X, _ = describe(names, cache, descriptor, args, what="query photos")
        X = np.array(X)
        bad = failed_rows(X, "query photos", f"the error column of {args.out}")
        errors = {i: reason for i, (_, reason) in read_errors(cache).items()}
    return names, X, bad, errors


def _predict(args):
    import numpy as np

    check_output(args.out)
    model = load_model(args.model)
    descriptor, estimator = split_model(model, args.model)
    if args.head is not None:
        estimator.set_params(head=args.head)
    names, X, bad, errors = _query_features(args, descriptor)
    rows = np.flatnonzero(~bad)
    details = estimator.predict_details(np.asarray(X)[rows], top_k=args.top_k,
                                        verbose=verbosity(args))
    truth = _exif_truth(names) if args.truth == "exif" else None
    _write(args.out, names, rows, details, errors, truth, args.top_k)
    print(f"wrote {len(rows)} predictions to {args.out}"
          + (f" ({int(bad.sum())} photos could not be read: see its error column)" if bad.any() else ""))
    return 0


def _exif_truth(paths):
    """``{row: (lat, lon)}`` of the photos with EXIF GPS."""
    from dgae.datasets import read_exif_gps

    out = {}
    for i, p in enumerate(paths):
        gps = read_exif_gps(p)
        if gps is not None:
            out[i] = gps
    return out


def _write(path, names, rows, details, errors, truth, top_k):
    import csv

    from dgae.geo import great_circle_km

    header = ["path", "pred_lat", "pred_lon", "match_distance", "confidence", "confidence_km"]
    header += [f"top{j + 1}_{c}" for j in range(top_k) for c in ("lat", "lon")]
    if truth is not None:
        header += ["lat", "lon", "error_km"]
    header.append("error")
    at = {r: j for j, r in enumerate(rows)}
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i, name in enumerate(names):
            line = [name]
            if i in at:
                j = at[i]
                lat, lon = details.gps[j]
                # repr: the shortest text that reads back as the same float (exact round trip)
                line += [repr(float(lat)), repr(float(lon)), f"{details.match_distance[j]:.6g}",
                         f"{details.confidence[j]:.3f}", f"{details.confidence_km:g}"]
                line += [repr(float(v)) for v in details.topk[j].ravel()] if top_k else []
            else:
                line += [""] * (5 + 2 * top_k)
            if truth is not None:
                t = truth.get(i)
                err = "" if t is None or i not in at else f"{float(great_circle_km(t, details.gps[at[i]])):.3f}"
                line += ["", "", ""] if t is None else [f"{t[0]:.6f}", f"{t[1]:.6f}", err]
            line.append(errors.get(i, "" if i in at else "not finite"))
            w.writerow(line)
