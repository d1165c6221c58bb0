"""``dgae fit`` and ``dgae predict``: train a DGAE on a feature file, geolocate with it.

``dgae fit FEATURES.npy PHOTOS.csv --out model.joblib [params]``: rows of
FEATURES.npy are the photos of PHOTOS.csv (``path,lat,lon`` and optional
columns such as ``area``), in the same order.

``dgae predict MODEL FEATURES.npy --out predictions.csv [--photos PHOTOS.csv]``
writes ``path,pred_lat,pred_lon`` (``path`` from ``--photos``, else the row
number), which ``dgae evaluate --truth PHOTOS.csv`` reads.
"""


def _hidden(text):
    return tuple(int(v) for v in text.split(",") if v.strip())


def _batch(text):
    return "full" if text.lower() in {"none", "full"} else ("auto" if text == "auto" else int(text))


def add_parser(subparsers):
    """Register ``fit`` and ``predict``.

    Examples
    --------
    >>> from dgae._cli import build_parser
    >>> args = build_parser().parse_args(["fit", "X.npy", "p.csv", "--out", "m.joblib",
    ...                                   "--hidden", "64,32", "--batch-size", "full"])
    >>> args.hidden, args.batch_size, args.alpha
    ((64, 32), 'full', None)
    """
    fit = subparsers.add_parser("fit", help="train a DGAE on FEATURES.npy + PHOTOS.csv",
                                description="Train a DGAE (POIs, P and Q, autoencoder, gallery index).")
    fit.add_argument("features", help=".npy of shape (n, n_features), rows in PHOTOS.csv order")
    fit.add_argument("photos", help="CSV with path,lat,lon (and optional columns)")
    fit.add_argument("--out", required=True, help="where to write the model (joblib)")
    # model flags default to None: the DGAE default then applies (one source of defaults)
    fit.add_argument("--hidden", type=_hidden, default=None,
                     help="encoder widths, e.g. 512,128 (default: DGAE's)")
    fit.add_argument("--objective", choices=("whitened", "paper"), default=None,
                     help="'paper': Eq. 4 as written (default: DGAE's, 'whitened')")
    fit.add_argument("--alpha", type=float, default=None)
    fit.add_argument("--beta", type=float, default=None)
    fit.add_argument("--gamma", type=float, default=None)
    fit.add_argument("--k1", type=int, default=None)
    fit.add_argument("--k2", type=int, default=None)
    fit.add_argument("--q-min-km", type=float, default=None, help="distance floor of Q pairs")
    fit.add_argument("--graph", choices=("exact", "anchor", "ann"), default=None)
    fit.add_argument("--poi-bandwidth", type=float, default=None, help="degrees of arc")
    fit.add_argument("--optimizer", choices=("adam", "sgd", "gd"), default=None)
    fit.add_argument("--lr", default=None, help='initial learning rate or "auto"')
    fit.add_argument("--max-iter", type=int, default=None)
    fit.add_argument("--batch-size", type=_batch, default=None, help='int, "full" or "auto"')
    fit.add_argument("--head", choices=("1nn", "meanshift", "kde"), default="1nn")
    fit.add_argument("--areas-column", default=None, help="CSV column with each photo's area")
    fit.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("-v", "--verbose", action="count", default=0)
    fit.set_defaults(func=_fit)

    pred = subparsers.add_parser("predict", help="geolocate FEATURES.npy with a fitted model",
                                 description="Write path,pred_lat,pred_lon for each row of FEATURES.npy.")
    pred.add_argument("model", help="a model written by dgae fit (or joblib.dump of DGAE/GeoKNN)")
    pred.add_argument("features", help=".npy of shape (n, n_features)")
    pred.add_argument("--out", required=True, help="predictions CSV")
    pred.add_argument("--photos", default=None, help="CSV whose path column names the rows")
    pred.add_argument("--head", choices=("1nn", "meanshift", "kde"), default=None,
                      help="override the model's head")
    pred.set_defaults(func=_predict)


def _read_photos(path, n_rows, what):
    from pathlib import Path

    from dgae.datasets import load_geotagged

    data = load_geotagged(Path(path).parent, csv=path, check_images=False)
    if len(data.gps) != n_rows:
        raise ValueError(f"{path} lists {len(data.gps)} photos but {what} has {n_rows} rows")
    return data


def _fit(args):
    import joblib
    import numpy as np

    from dgae import DGAE

    X = np.load(args.features, mmap_mode="r")
    photos = _read_photos(args.photos, X.shape[0], args.features)
    areas = None
    if args.areas_column:
        if args.areas_column not in photos.frame:
            raise ValueError(f"{args.photos} has no column {args.areas_column!r}")
        areas = photos.frame[args.areas_column]
    given = {"hidden_layer_sizes": args.hidden, "objective": args.objective, "alpha": args.alpha,
             "beta": args.beta, "gamma": args.gamma, "k1": args.k1, "k2": args.k2,
             "q_min_km": args.q_min_km, "graph": args.graph, "poi_bandwidth": args.poi_bandwidth,
             "optimizer": args.optimizer, "max_iter": args.max_iter,
             "learning_rate": None if args.lr is None else (args.lr if args.lr == "auto" else float(args.lr))}
    params = {k: v for k, v in given.items() if v is not None}
    if args.batch_size is not None:  # None is also a value: "full"
        params["batch_size"] = None if args.batch_size == "full" else args.batch_size
    model = DGAE(**params, head=args.head, device=args.device, random_state=args.seed,
                 verbose=args.verbose)
    model.fit(np.asarray(X), photos.gps, areas=areas)
    joblib.dump(model, args.out)
    curve = model.loss_curve_
    print(f"trained {model.n_iter_} iterations, J {curve['J'][0]:.4g} -> {curve['J'].min():.4g}; "
          f"wrote {args.out}")
    return 0


def _predict(args):
    import csv

    import joblib
    import numpy as np

    model = joblib.load(args.model)
    if args.head is not None:
        model.set_params(head=args.head)
    X = np.load(args.features, mmap_mode="r")
    names = list(range(X.shape[0]))
    if args.photos:
        names = _read_photos(args.photos, X.shape[0], args.features).paths
    pred = model.predict(np.asarray(X))
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "pred_lat", "pred_lon"])
        for name, (lat, lon) in zip(names, pred):
            w.writerow([name, f"{lat:.6f}", f"{lon:.6f}"])
    print(f"wrote {len(pred)} predictions to {args.out}")
    return 0
