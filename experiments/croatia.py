"""DGAE on real street-level photos: ../shared/data/croatia_streetview (200 places x 4 headings).

Both protocols of the data README:

* heading hold-out — ``rng = numpy.random.default_rng(0)``, for each
  ``location_id`` in sorted order ``rng.choice`` of that place's rows is the
  query (200 queries, 600 gallery photos);
* place hold-out — every photo of a held-out place is a query (25 % of places).

Rows: LF (Im2GPS descriptors, raw), AE (DGAE with alpha = beta = 0), CNN
(EfficientNet-Lite0 ImageNet features, when the ``cnn`` extra is installed),
DGAE (exact graphs), fDGAE (anchor graph), each with every head.  Accuracy at
1 / 25 / 200 / 750 km and the median error.  The DGAE hyper-parameters (alpha,
beta, and whether the input is kept in the code) are chosen by grid search
with cross-validation on the gallery only, with folds that mimic the protocol
(heading folds: one gallery heading of every place per fold; place folds:
grouped by place).

Example::

    python experiments/croatia.py --out experiments_out/croatia
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, cached, cnn_available, report, training_params  # noqa: E402

from dgae.datasets import heading_holdout_split, load_croatia_streetview, place_holdout_split  # noqa: E402

THRESHOLDS = (1, 25, 200, 750)


def heading_folds(location_id, n_folds=3):
    """CV splits of a gallery where fold k holds out the k-th photo of every place.

    Examples
    --------
    >>> [t.tolist() for _, t in heading_folds(["a", "a", "b", "b"], n_folds=2)]
    [[0, 2], [1, 3]]
    """
    location_id = np.asarray(location_id)
    rank = np.zeros(len(location_id), dtype=int)
    for loc in np.unique(location_id):
        rows = np.flatnonzero(location_id == loc)
        rank[rows] = np.arange(len(rows))
    return [(np.flatnonzero(rank % n_folds != k), np.flatnonzero(rank % n_folds == k))
            for k in range(n_folds)]


def place_folds(location_id, n_folds=3):
    from sklearn.model_selection import GroupKFold

    location_id = np.asarray(location_id)
    return list(GroupKFold(n_splits=n_folds).split(location_id, groups=location_id))


def choose_params(X, gps, folds, base, grid, threshold_km, n_jobs, verbose):
    """Grid search on the gallery; returns (best_params, cv table text, seconds)."""
    from sklearn.model_selection import GridSearchCV

    from dgae import DGAE
    from dgae.metrics import geo_scorer

    t = time.perf_counter()
    search = GridSearchCV(DGAE(**base), grid, scoring=geo_scorer(threshold_km), cv=folds,
                          n_jobs=n_jobs, error_score="raise", verbose=verbose)
    search.fit(X, gps)
    res = search.cv_results_
    lines = [f"  {p}  ->  {100 * m:.1f} % within {threshold_km} km (gallery CV)"
             for p, m in zip(res["params"], res["mean_test_score"])]
    return search.best_params_, "\n".join(lines), time.perf_counter() - t


def main(argv=None):
    p = base_parser(__doc__.split("\n\n")[0], "experiments_out/croatia")
    p.add_argument("--protocol", default="both", choices=["heading", "place", "both"])
    p.add_argument("--alphas", default="0.2,1", help="alpha grid for the gallery CV")
    p.add_argument("--betas", default="0,0.1", help="beta grid for the gallery CV")
    p.add_argument("--include-input", default="true,false",
                   help="include_input grid (code = hidden layers [+ scaled input])")
    p.add_argument("--cv-km", type=float, default=25, help="CV score: fraction within this distance")
    p.add_argument("--no-cv", action="store_true", help="skip the grid search: first grid values")
    p.add_argument("--cnn", default="auto", choices=["auto", "off"])
    p.add_argument("--n-textons", type=int, default=512)
    p.add_argument("--features-only", action="store_true", help="compute the cached features, stop")
    args = p.parse_args(argv)
    from dgae._demo import evaluate_methods, standard_methods
    from dgae.features import Im2GPSDescriptor

    verbose = 0 if args.quiet else 1
    heads = tuple(args.heads.split(","))
    out = Path(args.out)
    data = load_croatia_streetview()
    loc = np.asarray(data.frame["location_id"])
    paths = [str(x) for x in data.paths]
    use_cnn = args.cnn == "auto" and cnn_available()
    if use_cnn:
        from dgae.features import CNNDescriptor

        C, sec = cached(out / "cache" / "cnn.npy", lambda: CNNDescriptor(
            n_jobs=args.n_jobs, verbose=verbose).fit().transform(paths))
        print(f"CNN features {C.shape} ({sec:.0f} s)")
    else:
        print("CNN row skipped: the 'cnn' extra (torch) is not installed" if args.cnn == "auto"
              else "CNN row off")
    protocols = ["heading", "place"] if args.protocol == "both" else [args.protocol]
    grid = {"alpha": [float(a) for a in args.alphas.split(",")],
            "beta": [float(b) for b in args.betas.split(",")],
            "include_input": [s.strip().lower() == "true" for s in args.include_input.split(",")]}
    base = training_params(args)
    for proto in protocols:
        if proto == "heading":
            q, g = heading_holdout_split(loc, seed=0)
            folds = heading_folds(loc[g])
        else:
            q, g = place_holdout_split(loc, test_size=0.25, seed=0)
            folds = place_folds(loc[g])

        def im2gps():
            d = Im2GPSDescriptor(n_textons=args.n_textons, n_jobs=args.n_jobs,
                                 random_state=args.seed, verbose=verbose)
            d.fit([paths[i] for i in g])  # textons and block scales from the gallery only
            return d.transform(paths)

        X, sec = cached(out / "cache" / f"im2gps_{proto}_{args.n_textons}.npy", im2gps)
        print(f"\n=== {proto} hold-out: {len(q)} queries, {len(g)} gallery; Im2GPS {X.shape} "
              f"({sec:.0f} s)")
        if args.features_only:
            continue
        if args.no_cv:
            best = {k: v[0] for k, v in grid.items()}
        else:
            best, cv_text, sec = choose_params(X[g], data.gps[g], folds, base, grid, args.cv_km,
                                               args.n_jobs, verbose)
            print(f"gallery cross-validation ({len(folds)} folds, {sec:.0f} s):\n{cv_text}")
        print(f"chosen: {best}")
        methods = standard_methods(**{**base, **best})
        extra = {"CNN": (C[g], C[q])} if use_cnn else None
        res = evaluate_methods(methods, X[g], data.gps[g], X[q], data.gps[q], heads=heads,
                               features=extra, verbose=verbose)
        report(res, out / proto, f"Croatia street view, {proto} hold-out ({len(q)} queries); "
               f"DGAE {best}", heads, data.gps[q])
    return 0


if __name__ == "__main__":
    sys.exit(main())
