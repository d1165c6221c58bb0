"""Time of day (M2) and user albums (M3) over a cell model (M1), on the replica with context.

``make_city_world(n_images=N, context=True, random_state=--seed)``; queries are
whole users (``GroupShuffleSplit`` by user, ``--query-share`` of the users,
``random_state=--seed``), so no album is split between gallery and queries.
Im2GPS descriptors (textons and block scales fitted on the gallery only) are
cached under ``OUT/cache``.  Rows, every one fitted on the gallery only:

* M1 -- ``CellClassifier()`` on the whole gallery;
* M2 -- ``TimeRefiner()`` (default ``combine="product"``: M1 times a time-only
  cell model over the cell prior; its M1 is exactly the M1 row);
* M2 paper MLP -- ``TimeRefiner(combine="mlp")``: the paper's M2 (top-10 M1
  probabilities + time tuple -> MLP), learning from out-of-fold M1 outputs
  (folds by user), M1 fitted on the whole gallery;
* M2, shuffled times (and the same for the MLP) -- the times permuted among
  the gallery photos and among the queries (our control: time then carries
  nothing, so M2 should match M1);
* M3 average -- ``AlbumRefiner()`` (PlaNet's album averaging over M1);
* M3 average over M2 -- ``AlbumRefiner(base=TimeRefiner())``;
* M3 LSTM -- ``AlbumRefiner(method="lstm")`` (needs the ``cnn`` extra).

Example::

    python experiments/context.py --n-images 5000 --out experiments_out/context
"""
import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cached, cnn_available  # noqa: E402


def user_split(user, share, seed):
    """(query rows, gallery rows): ``share`` of the users held out whole."""
    from sklearn.model_selection import GroupShuffleSplit

    g, q = next(GroupShuffleSplit(n_splits=1, test_size=share, random_state=seed).split(
        np.zeros(len(user)), groups=user))
    return np.sort(q), np.sort(g)


def rows(seed, with_lstm):
    """name -> (estimator, fit keywords, predict keywords, shuffle times)."""
    from dgae import AlbumRefiner, CellClassifier, TimeRefiner

    out = {
        "M1": (CellClassifier(), (), (), False),
        "M2": (TimeRefiner(random_state=seed), ("time", "groups"), ("time",), False),
        "M2, shuffled times": (TimeRefiner(random_state=seed), ("time", "groups"), ("time",),
                               True),
        "M2 paper MLP": (TimeRefiner(combine="mlp", random_state=seed), ("time", "groups"),
                         ("time",), False),
        "M2 paper MLP, shuffled": (TimeRefiner(combine="mlp", random_state=seed),
                                   ("time", "groups"), ("time",), True),
        "M3 average": (AlbumRefiner(random_state=seed), ("album",), ("album",), False),
        "M3 average over M2": (AlbumRefiner(base=TimeRefiner(random_state=seed),
                                            random_state=seed),
                               ("album", "time"), ("album", "time"), False),
    }
    if with_lstm:
        out["M3 LSTM"] = (AlbumRefiner(method="lstm", random_state=seed), ("album", "time"),
                          ("album", "time"), False)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n-images", type=int, default=5000)
    p.add_argument("--query-share", type=float, default=0.2, help="share of users held out")
    p.add_argument("--out", default="experiments_out/context")
    p.add_argument("--n-jobs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from dgae.experiment import describe
    from dgae.datasets import make_city_world
    from dgae.report import accuracy_table
    from dgae.metrics import geolocation_errors_km

    world = make_city_world(n_images=args.n_images, image_size=128, random_state=args.seed,
                            n_jobs=args.n_jobs, context=True)
    q, g = user_split(world.user, args.query_share, args.seed)
    X, sec = cached(Path(args.out) / "cache" / f"im2gps_context_{args.n_images}_{args.seed}.npy",
                    lambda: describe(list(world.images), g, 512, args.n_jobs, args.seed)[0])
    print(f"replica with context, {args.n_images} photos, {len(np.unique(world.user))} users, "
          f"{len(np.unique(world.album))} albums; {len(q)} queries ({len(np.unique(world.user[q]))} "
          f"users), {len(g)} gallery; descriptors {sec:.0f} s", flush=True)
    shuffled = world.time.copy()
    rng = np.random.default_rng(args.seed)
    shuffled[g] = rng.permutation(world.time[g])
    shuffled[q] = rng.permutation(world.time[q])
    errors, seconds = {}, {}
    for name, (est, fit_kw, pred_kw, shuffle) in rows(args.seed, cnn_available()).items():
        ctx = {"time": shuffled if shuffle else world.time, "album": world.album,
               "groups": world.user}
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X[g], world.gps[g], **{k: ctx[k][g] for k in fit_kw})
            pred = est.predict(X[q], **{k: ctx[k][q] for k in pred_kw})
        seconds[name] = time.perf_counter() - t
        errors[name] = geolocation_errors_km(world.gps[q], pred)
        print(f"  {name}: {seconds[name]:.1f} s", flush=True)
    print("\n" + accuracy_table(errors,
                                 extra={k: {"fit+pred s": f"{seconds[k]:.1f}"} for k in errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
