"""``dgae fit``: describe a gallery of geotagged photos and train a DGAE on it.

``dgae fit PHOTOS.csv --out model.joblib [params]`` describes the photos of
PHOTOS.csv (``path,lat,lon`` and optional columns such as ``area``) with an
:class:`~dgae.features.Im2GPSDescriptor` (fitted on them, as ``dgae extract``
does; cached in ``--cache``, default ``OUT.features.npy``, and resumable),
trains the DGAE and writes a :class:`dgae.GeoPipeline` ``(descriptor, dgae)``:
``joblib.load(model).predict(paths)`` geolocates photo files, and
``dgae predict`` uses the model's own descriptor for the queries.

``--features FEATURES.npy`` (or the older two-positional form ``dgae fit
FEATURES.npy PHOTOS.csv``) reuses extracted features, rows in PHOTOS.csv
order; when they come from ``dgae extract`` the model is again a Pipeline
with that extraction's descriptor, otherwise the bare DGAE.

Photos that could not be described (NaN rows) are left out with a warning
that counts them and names the error log.
"""
from ._common import (
    FROM_MODEL,
    HelpFormatter,
    Interrupted,
    add_choice_flag,
    add_cluster_flags,
    add_model_flags,
    add_seed,
    add_verbosity,
    check_output,
    describe,
    failed_rows,
    list_images,
    load_fitted_descriptor,
    verbosity,
)


def _dgae_flag(parser, flag, param, **kwargs):
    """A flag whose choices are DGAE's for ``param`` (its ``_parameter_constraints``)."""
    return add_choice_flag(parser, flag, "dgae._estimator:DGAE", param, **kwargs)


def _batch(text):
    return "full" if text.lower() in {"none", "full"} else ("auto" if text == "auto" else int(text))


def add_parser(subparsers):
    """Register ``fit``.

    Examples
    --------
    >>> from dgae.cli import build_parser
    >>> args = build_parser().parse_args(["fit", "X.npy", "p.csv", "--out", "m.joblib",
    ...                                   "--hidden", "64,32", "--batch-size", "full"])
    >>> args.layers, args.batch_size, args.alpha, args.inputs
    ((64, 32), 'full', None, ['X.npy', 'p.csv'])
    """
    fit = subparsers.add_parser(
        "fit", help="describe PHOTOS.csv and train a DGAE on it (writes a Pipeline)",
        usage="dgae fit PHOTOS.csv --out MODEL [options]\n"
              "       dgae fit FEATURES.npy PHOTOS.csv --out MODEL [options]",
        formatter_class=HelpFormatter,
        description="Describe the photos of PHOTOS.csv (path,lat,lon) and train a DGAE on them "
                    "(POIs, P and Q, autoencoder, gallery index). Model flags left out take "
                    "DGAE's defaults.")
    fit.add_argument("inputs", nargs="+", metavar="PHOTOS.csv",
                     help="the gallery CSV (path,lat,lon[,area,...]); the older form "
                          "FEATURES.npy PHOTOS.csv is accepted")
    fit.add_argument("--out", required=True, help="where to write the model (joblib)")
    fit.add_argument("--descriptor", default="im2gps", metavar="NAME|CONFIG.json",
                     help="how photos are described: im2gps, cnn (cnn:lite0|lite1|lite2; the cnn "
                          "extra), fused (Im2GPS and CNN, equal shares) or a JSON configuration "
                          "of an encoder from a local file (onnx, timm, open_clip; see "
                          "docs/features.md); the model keeps it, so dgae predict describes "
                          "queries the same way")
    fit.add_argument("--features", default=None,
                     help=".npy of extracted features (rows in PHOTOS.csv order) instead of describing")
    fit.add_argument("--cache", default=None,
                     help="resumable feature file of the gallery (None: OUT.features.npy)")
    fit.add_argument("--n-jobs", type=int, default=-1,
                     help="descriptor workers and threads (-1: all cores)")
    # model flags default to None: the DGAE default then applies (one source of defaults)
    add_model_flags(fit)
    _dgae_flag(fit, "--objective", "objective", default=None,
               help=f"'paper': Eq. 4 as written {FROM_MODEL}")
    for flag, kind, what in (("--alpha", float, "weight of the same-area pull"),
                             ("--beta", float, "weight of the easy-confusing push"),
                             ("--k1", int, "same-area neighbours per photo"),
                             ("--k2", int, "easy-confusing neighbours per photo"),
                             ("--q-min-km", float, "distance floor of Q pairs, km"),
                             ("--poi-bandwidth-km", float, "POI mean-shift bandwidth, km"),
                             ("--new-place-share", float, "share of queries expected on ground "
                              "the gallery does not hold (new places and new regions, half "
                              "each): early stopping, the head, the retrieval space and the "
                              "confidence are chosen for that mix (default: 2/3 for the choices, "
                              "the confidence for new ground)")):
        fit.add_argument(flag, type=kind, default=None,
                         help=what if "default" in what else f"{what} {FROM_MODEL}")
    _dgae_flag(fit, "--graph", "graph", default=None,
               help=f"Q builder; anchor = fDGAE {FROM_MODEL}")
    add_choice_flag(fit, "--index", "dgae:GeoKNN", "index", default=None,
                    help="gallery search: exact, pynndescent, an inverted file or faiss (IVF-Flat; "
                         "the faiss extra) (default: exact)")
    _dgae_flag(fit, "--optimizer", "optimizer", default=None,
               help=FROM_MODEL)
    fit.add_argument("--batch-size", type=_batch, default=None,
                     help=f'int, "full" or "auto" {FROM_MODEL}')
    add_choice_flag(fit, "--head", "dgae:GeoKNN", "head", default=None,
                    help="location head ('auto': chosen on held-out places, see "
                         "docs/estimator.md) (default: auto)")
    fit.add_argument("--areas-column", default=None, help="CSV column with each photo's area")
    fit.add_argument("--compact", action="store_true",
                     help="keep only what prediction needs (no decoder, no training features)")
    _dgae_flag(fit, "--device", "device", default="auto",
               help="where training runs")
    add_cluster_flags(fit)
    add_seed(fit)
    add_verbosity(fit)
    fit.set_defaults(func=_fit)
    return fit


def _inputs(args):
    """(features path or None, photos CSV) from the positional arguments and ``--features``."""
    if len(args.inputs) == 2:
        if args.features:
            raise ValueError("give the features either as the first argument or as --features")
        return args.inputs[0], args.inputs[1]
    if len(args.inputs) != 1:
        raise ValueError(f"expected PHOTOS.csv (or FEATURES.npy PHOTOS.csv), got {args.inputs}")
    if args.inputs[0].endswith(".npy"):
        raise ValueError(f"{args.inputs[0]}: a feature file needs its PHOTOS.csv as well")
    return args.features, args.inputs[0]


def read_photos(path, n_rows=None, what=None):
    """``load_geotagged`` on a CSV (files not opened) or a folder (EXIF positions); checks the
    row count when given."""
    from pathlib import Path

    from dgae.datasets import load_geotagged

    if Path(path).is_dir():  # a gallery folder: positions from the photos' EXIF
        n_files = len(list_images(path))  # says so when it holds no photo file at all
        data = load_geotagged(path)
        if not len(data.gps):
            raise ValueError(f"{path}: none of its {n_files} photos has a GPS position in its "
                             "EXIF; give a CSV with path,lat,lon instead")
    elif not Path(path).is_file():
        raise ValueError(f"{path}: no such file or folder")
    else:
        data = load_geotagged(Path(path).parent, table=path, check_images=False)
    if n_rows is not None and len(data.gps) != n_rows:
        raise ValueError(f"{path} lists {len(data.gps)} photos but {what} has {n_rows} rows")
    return data


def _features(args, features, photos_csv):
    """(X, photos, descriptor or None, cache or None) for the gallery."""
    import os

    import numpy as np

    from dgae.features import make_descriptor
    from dgae.features import state_paths

    if features is not None:
        X = np.load(features, mmap_mode="r")
        made_by_extract = os.path.exists(state_paths(features)["descriptor"])
        descriptor = load_fitted_descriptor(features) if made_by_extract else None
        return X, read_photos(photos_csv, X.shape[0], features), descriptor, features
    photos = read_photos(photos_csv)
    cache = args.cache or args.out + ".features.npy"
    X, descriptor = describe(photos.paths, cache, make_descriptor(args.descriptor, args.seed),
                             args, what="gallery photos")
    return X, photos, descriptor, cache


def _fit(args):
    import joblib
    import numpy as np

    check_output(args.out)
    from dgae import DGAE, KNN_DEFAULTS, GeoKNN, GeoPipeline
    from dgae.features import state_paths

    X, photos, descriptor, cache = _features(args, *_inputs(args))
    areas = None
    if args.areas_column:
        if args.areas_column not in photos.frame:
            raise ValueError(f"{args.inputs[-1]} has no column {args.areas_column!r}")
        areas = np.asarray(photos.frame[args.areas_column])
    keep = ~failed_rows(X, "gallery photos", state_paths(cache)["errors"])
    given = {"hidden_layer_sizes": args.layers, "objective": args.objective, "alpha": args.alpha,
             "beta": args.beta, "gamma": args.gamma, "k1": args.k1, "k2": args.k2,
             "q_min_km": args.q_min_km, "graph": args.graph,
             "poi_bandwidth_km": args.poi_bandwidth_km, "new_place_share": args.new_place_share,
             "optimizer": args.optimizer, "max_iter": args.max_iter,
             "learning_rate": args.learning_rate}
    params = {k: v for k, v in given.items() if v is not None}
    if args.batch_size is not None:  # None is also a value: "full"
        params["batch_size"] = None if args.batch_size == "full" else args.batch_size
    retrieval = {k: v for k, v in (("head", args.head), ("index", args.index)) if v is not None}
    knn = (GeoKNN(**{**KNN_DEFAULTS, **retrieval}, device=args.device, random_state=args.seed)
           if retrieval else None)  # None: DGAE's own, the same defaults
    model = DGAE(**params, knn=knn, device=args.device, random_state=args.seed,
                 verbose=max(0, verbosity(args) - 1))
    try:
        model.fit(np.asarray(X)[keep], photos.gps[keep], areas=None if areas is None else areas[keep])
    except KeyboardInterrupt:
        kept = f"; the photos' descriptions are kept in {cache}" if descriptor is not None else ""
        raise Interrupted(f"while training, no model written{kept}; the same command starts the "
                          "training again") from None
    if args.compact:
        model.compact()
    if descriptor is not None:
        descriptor.set_params(on_error="raise", verbose=0, n_jobs=None)  # every descriptor has these
        model = GeoPipeline([("descriptor", descriptor), ("dgae", model)])
    joblib.dump(model, args.out)
    dgae = model[-1] if descriptor is not None else model
    curve = dgae.loss_curve_
    print(f"trained on {int(keep.sum())} photos, {dgae.n_iter_} iterations, "
          f"J {curve['J'][0]:.4g} -> {curve['J'].min():.4g}; wrote {args.out}")
    return 0
