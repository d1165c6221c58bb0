"""``dgae predict``: geolocate photos (or feature rows) with a fitted model.

``dgae predict MODEL PHOTOS.csv|FOLDER --out predictions.csv`` describes the
queries with the model's own descriptor (a model written by ``dgae fit`` is a
``Pipeline(descriptor, dgae)``) and writes, per photo, ``path, pred_lat,
pred_lon, match_distance, confidence, confidence_seen, confidence_km, place, nearest_place``
(see :meth:`dgae.GeoKNN.predict_details`: for a DGAE, ``confidence`` is the calibrated
probability that the error is at most ``confidence_km`` if the photo is of ground the gallery
does not hold (unless ``dgae fit --new-place-share`` stated another mix), ``confidence_seen``
the same if it is another view of a place in the gallery, empty where unknown; ``place``: the city
a person would name, region and country code, offline from GeoNames
(:func:`dgae.geo.city_places`); ``nearest_place``: the nearest populated place, often a
neighbourhood), the ``--top-k`` distinct candidate
locations when asked (each with its place),
and ``error`` for a photo that could not be read (its other columns empty;
the rest of the batch is kept).  ``--truth exif`` adds ``lat, lon,
error_km`` from each photo's EXIF GPS where present.

``dgae predict MODEL FEATURES.npy --out predictions.csv [--photos PHOTOS.csv]``
(the older form) predicts rows of extracted features.
"""
from ._common import (
    HelpFormatter,
    add_choice_flag,
    add_cluster_flags,
    add_seed,
    add_verbosity,
    at_least,
    check_output,
    list_images,
    load_model,
    note_resume,
    on_cluster,
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
        description="Write path,pred_lat,pred_lon,match_distance,confidence,confidence_seen,"
                    "confidence_km per query photo.")
    p.add_argument("model", help="a model written by dgae fit (or joblib.dump of a DGAE/GeoKNN "
                                 "or a Pipeline ending in one)")
    p.add_argument("queries", help="PHOTOS.csv (a path column), a FOLDER of photos, or FEATURES.npy")
    p.add_argument("--out", required=True, help="predictions CSV")
    p.add_argument("--photos", default=None,
                   help="with FEATURES.npy: CSV whose path column names the rows")
    add_choice_flag(p, "--head", "dgae:GeoKNN", "head", exclude=("auto",), default=None,
                    help="another head than the model's (DGAE: at the gallery's widths)")
    p.add_argument("--top-k", type=at_least(0), default=0,
                   help="also write the k best distinct candidate locations")
    p.add_argument("--truth", choices=("exif",), default=None,
                   help="exif: compare with each photo's EXIF GPS where present")
    p.add_argument("--cache", default=None,
                   help="resumable feature file of the queries, kept (None: OUT.features.npy, "
                        "kept only when interrupted, so that the same command resumes)")
    p.add_argument("--n-jobs", type=int, default=-1,
                   help="descriptor workers and threads (-1: all cores)")
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


def _details(args, model, descriptor, estimator, cache):
    """(names, details with an ``error`` per row) of the queries: photos or feature rows."""
    import os

    import numpy as np

    from dgae.pipeline import details_of_rows

    verbose = verbosity(args)
    if not args.queries.endswith(".npy") and descriptor is None:
        raise ValueError(f"{args.model} holds no descriptor (it was fitted on a feature file); "
                         "give the queries as FEATURES.npy made with the same descriptor")
    with on_cluster(args) as client:
        if client is not None and hasattr(estimator, "shard_index"):
            estimator.shard_index()  # the gallery over the workers: exact, the same predictions
        if args.queries.endswith(".npy"):
            X = np.load(args.queries, mmap_mode="r")
            names = list(range(X.shape[0]))
            if args.photos:
                from ._fit import read_photos

                names = read_photos(args.photos, X.shape[0], args.queries).paths
            return names, details_of_rows(estimator, X, top_k=args.top_k, verbose=verbose)
        names = _query_paths(args.queries)
        note_resume(cache, "query photos", verbose)
        details = model.predict_details(names, top_k=args.top_k, verbose=verbose, cache=cache,
                                        n_jobs=args.n_jobs)
    if not args.cache:
        from dgae.features import state_paths

        for f in [cache, *state_paths(cache).values()]:
            if os.path.exists(f):
                os.remove(f)
    return names, details


def _predict(args):
    check_output(args.out)
    model = load_model(args.model)
    descriptor, estimator = split_model(model, args.model)
    if args.head is not None:
        if not hasattr(estimator, "set_head"):
            raise ValueError(f"--head: {args.model} holds a {type(estimator).__name__}, which "
                             "has no retrieval head")
        estimator.set_head(args.head)
    # kept after Ctrl-C so that the same command resumes; removed once the predictions are written
    cache = args.cache or args.out + ".features.npy"
    names, details = _details(args, model, descriptor, estimator, cache)
    truth = _exif_truth(names) if args.truth == "exif" else None
    _write(args.out, names, details, truth, _top_k(args.top_k, details))
    bad = sum(1 for e in details.error if e)
    print(f"wrote {len(names) - bad} predictions to {args.out}"
          + (f" ({bad} of {len(names)} photos could not be read: see its error column)" if bad else ""))
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


def _blank_nan(value, spec):
    """A number as the CSV writes it; NaN (unknown) as an empty cell."""
    return "" if value != value else format(float(value), spec)


def _top_k(top_k, details):
    """The candidates the CSV gets: ``--top-k``, or fewer where the gallery holds fewer distinct
    locations (columns no row would fill are not written)."""
    import warnings

    import numpy as np

    found = int(np.isfinite(details.topk).all(axis=2).sum(axis=1).max(initial=0))
    if found < top_k:
        warnings.warn(f"--top-k {top_k}: the gallery offers at most {found} distinct candidate "
                      f"locations per photo; writing {found}", UserWarning, stacklevel=2)
    return min(top_k, found)


def _write(path, names, details, truth, top_k):
    import csv

    import numpy as np

    from dgae.geo import great_circle_km, place_labels

    columns = ["pred_lat", "pred_lon", "match_distance", "confidence", "confidence_seen",
               "confidence_km", "place", "nearest_place"]
    header = ["path", *columns]
    header += [f"top{j + 1}_{c}" for j in range(top_k) for c in ("lat", "lon", "place")]
    if truth is not None:
        header += ["lat", "lon", "error_km"]
    header.append("error")
    ok = np.isfinite(details.gps).all(axis=1)
    places, fine = place_labels(details.gps), place_labels(details.gps, fine=True)
    top_places = [place_labels(details.topk[:, j]) for j in range(top_k)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i, name in enumerate(names):
            line = [name]
            if ok[i]:
                lat, lon = details.gps[i]
                # repr: the shortest text that reads back as the same float (exact round trip)
                line += [repr(float(lat)), repr(float(lon)), f"{details.match_distance[i]:.6g}",
                         _blank_nan(details.confidence[i], ".3f"),
                         _blank_nan(details.confidence_seen[i], ".3f"),
                         f"{details.confidence_km:g}", places[i], fine[i]]
                for j in range(top_k):
                    g = details.topk[i, j]
                    line += ([repr(float(g[0])), repr(float(g[1])), top_places[j][i]]
                             if np.isfinite(g).all() else ["", "", ""])
            else:
                line += [""] * (len(columns) + 3 * top_k)
            if truth is not None:
                t = truth.get(i)
                err = "" if t is None or not ok[i] else f"{float(great_circle_km(t, details.gps[i])):.3f}"
                line += ["", "", ""] if t is None else [f"{t[0]:.6f}", f"{t[1]:.6f}", err]
            line.append(details.error[i])
            w.writerow(line)
