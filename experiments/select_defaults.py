"""How DGAE's defaults were chosen: settings compared by cross-validation on galleries only.

Each gallery is split once more, never touching the outer protocol's query
photos:

* a multi-view collection (``--data DIR``, ``photos.csv`` with ``location_id``;
  the gallery of the outer ``--protocol``): one random view of half of the
  gallery's places (``default_rng(1)``) becomes an inner query; the other half
  keeps all its views, so early stopping has POIs of three photos to hold out
  from (as in the outer gallery);
* the synthetic replica (``--synthetic N``, the gallery of
  ``experiments/cities35.py`` at that size: ``query_split(N, 300, seed)``):
  300 random gallery photos (``default_rng(1)``) are the inner queries.

Every setting (a dict of parameters over the defaults of ``--estimator``,
DGAE unless named, one per line of ``--settings FILE``, or DGAE's built-in
one-at-a-time list) is fitted on each
inner gallery with ``random_state=--seed`` and scored by the 1-NN accuracy
within 1 km of the inner queries (25 km and the median error are printed
too).  The table ends with each setting's mean rank over the galleries; the
defaults in :class:`dgae.DGAE` are the setting of best mean rank, unless its
mean 1 km gain over the current defaults is under one point — below the seed
noise of these inner splits (a seed moves Croatia's score by 4–7 points, the
others' by 1–2) — in which case the current defaults stay (ties: the simpler
one).  Features are cached under ``OUT/cache``.

Example::

    python experiments/select_defaults.py --data ../shared/data/croatia_streetview \\
        --data ../shared/data/world_streetview --synthetic 5000 --synthetic 20000 \\
        --out experiments_out/select
"""
import argparse
import ast
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cached  # noqa: E402

#: One change at a time from the defaults (the built-in list).
SETTINGS = (
    "{}",
    "{'alpha': 8.0}", "{'alpha': 32.0}",
    "{'beta': 0.0}", "{'beta': 2.0}",
    "{'q_min_km': 0.0}",
    "{'covariance_weight': 0.1}", "{'covariance_weight': 1.0}",
    "{'whiten_shrinkage': 0.0}", "{'whiten_shrinkage': 1.0}",
    "{'hidden_layer_sizes': (1024, 128)}", "{'hidden_layer_sizes': (512, 256, 128)}",
    "{'n_components': 128}",
    "{'learning_rate': 3e-3}",
    "{'input_dropout': 0.2}",
    "{'early_stopping': False}",
    "{'alpha': 0.0, 'beta': 0.0}",
)


def inner_split_views(location_id, seed=1):
    """Inner queries: one random view of half of the places (see the module docstring).

    Examples
    --------
    >>> q, g = inner_split_views(np.repeat(["a", "b", "c", "d"], 3))
    >>> len(q), len(g)
    (2, 10)
    """
    location_id = np.asarray(location_id)
    places = np.unique(location_id)
    rng = np.random.default_rng(seed)
    held = set(rng.permutation(places)[: places.size // 2].tolist())
    q = np.array([rng.choice(np.flatnonzero(location_id == p)) for p in places if p in held])
    return q, np.setdiff1d(np.arange(location_id.size), q)


def photo_gallery(data_dir, protocol, out, seed):
    """(X, gps, location_id) of the outer gallery of a photo collection (descriptors cached)."""
    from dgae.datasets import heading_holdout_split, load_geotagged, place_holdout_split
    from dgae.features import Im2GPSDescriptor

    data_dir = Path(data_dir)
    data = load_geotagged(data_dir, data_dir / "photos.csv")
    loc = np.asarray(data.frame["location_id"])
    _, g = (heading_holdout_split(loc, seed=0) if protocol == "heading"
            else place_holdout_split(loc, test_size=0.2, seed=0))
    paths = [str(data.paths[i]) for i in g]
    X, _ = cached(out / "cache" / f"{data_dir.name}_{protocol}_gallery_im2gps.npy",
                  lambda: Im2GPSDescriptor(random_state=seed).fit_transform(paths))
    return X, data.gps[g], loc[g]


def synthetic_gallery(n, out, seed):
    """(X, gps) of the gallery of ``experiments/cities35.py --n-images n`` (cached)."""
    from dgae.experiment import describe, query_split
    from dgae.datasets import make_city_world

    def make():
        w = make_city_world(n_images=n, image_size=128, random_state=seed, n_jobs=-1)
        _, g = query_split(n, 300, seed)
        X, _ = describe(list(w.images), g, 512, None, seed, 0)
        return np.hstack([X[g], w.gps[g]])

    XG, _ = cached(out / "cache" / f"synthetic_{n}_{seed}_gallery.npy", make)
    return XG[:, :-2].astype(np.float32), XG[:, -2:].astype(np.float64)


def score(X, gps, q, g, params, seed, estimator="DGAE"):
    """Accuracy (%) within 1 and 25 km, the median error and the fit seconds of one setting."""
    import warnings

    import dgae
    from dgae.metrics import geolocation_errors_km

    t = time.perf_counter()
    model = getattr(dgae, estimator)(**params)
    if "random_state" in model.get_params():
        model.set_params(random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X[g], gps[g])
    err = geolocation_errors_km(gps[q], model.predict(X[q]))
    return (100 * np.mean(err <= 1), 100 * np.mean(err <= 25), float(np.median(err)),
            time.perf_counter() - t)


def mean_ranks(table):
    """Mean rank (1 = best) of each setting over the galleries, by accuracy at 1 km.

    Examples
    --------
    >>> mean_ranks({"a": [30.0, 20.0], "b": [25.0, 22.0], "c": [10.0, 10.0]}).tolist()
    [1.5, 1.5, 3.0]
    """
    from scipy.stats import rankdata

    acc = np.array(list(table.values()))  # (settings, galleries)
    return np.mean([rankdata(-acc[:, j]) for j in range(acc.shape[1])], axis=0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", action="append", default=[], help="photo collection folder (repeat)")
    p.add_argument("--protocol", default="heading", choices=["heading", "place"],
                   help="outer protocol whose gallery is split")
    p.add_argument("--synthetic", action="append", type=int, default=[],
                   help="synthetic replica of this many photos (repeat)")
    p.add_argument("--settings", default=None, help="file: one dict of parameters per line")
    p.add_argument("--rank-at", type=int, default=1, choices=[1, 25],
                   help="rank the settings by the accuracy within this many km")
    p.add_argument("--estimator", default="DGAE",
                   help="the dgae estimator compared (DGAE, MvMFRegressor, CellClassifier, ...)")
    p.add_argument("--out", default="experiments_out/select_defaults")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    out = Path(args.out)
    galleries = {}
    for d in args.data:
        X, gps, loc = photo_gallery(d, args.protocol, out, args.seed)
        q, g = inner_split_views(loc)
        galleries[Path(d).name] = (X, gps, q, g)
    for n in args.synthetic:
        X, gps = synthetic_gallery(n, out, args.seed)
        perm = np.random.default_rng(1).permutation(len(X))
        galleries[f"synthetic{n}"] = (X, gps, np.sort(perm[:300]), np.sort(perm[300:]))
    if not galleries:
        p.error("give at least one --data or --synthetic gallery")
    if args.settings is None and args.estimator != "DGAE":
        p.error("--settings FILE is needed for an estimator other than DGAE")
    lines = SETTINGS if args.settings is None else [
        s for s in Path(args.settings).read_text().splitlines() if s.strip()]
    names = list(galleries)
    print("setting".ljust(44) + "".join(f"{n[:16]:>22}" for n in names) + "   (1 km / 25 km %, "
          "median km)", flush=True)
    acc1 = {}
    for line in lines:
        params = ast.literal_eval(line)
        cells, acc1[line] = [], []
        for name in names:
            a1, a25, med, _ = score(*galleries[name], params, args.seed, args.estimator)
            acc1[line].append(a1 if args.rank_at == 1 else a25)
            cells.append(f"{a1:5.1f}/{a25:5.1f} {med:7.0f}")
        print(f"{line[:44]:<44}" + "".join(f"{c:>22}" for c in cells), flush=True)
    ranks = mean_ranks(acc1)
    base = np.array(acc1["{}"]) if "{}" in acc1 else None
    print(f"\nmean rank by accuracy within {args.rank_at} km (1 = best); mean gain over the "
          "defaults ({}), points:")
    for line, r in sorted(zip(lines, ranks), key=lambda t: t[1]):
        gain = "" if base is None else f"{np.mean(np.array(acc1[line]) - base):+6.2f}"
        print(f"  {r:5.2f} {gain}  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
