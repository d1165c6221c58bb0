"""Wall time of a default ``DGAE().fit`` on N photos of Im2GPS descriptors, stage by stage.

The photos are the synthetic replica (``make_city_world(N, image_size=128)``),
described with the Im2GPS descriptors (cached in ``--cache``; not timed).
Printed: the stages of ``DGAE(random_state=0).fit`` (``fit_times_``: input
scaling, POIs + P + Q, training with early stopping, gallery indexing) and,
measured in the same run as references, the fit of the LF baseline
(``GeoKNN``) and of the PCA(256, whiten) + LDA peer on the same gallery.

Example::

    python benchmarks/bench_fit.py --n 5000
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def features(n, cache, seed):
    """(X, gps) of an n-photo replica, descriptors cached."""
    path = Path(cache) / f"bench_fit_{n}_{seed}.npz"
    if path.is_file():
        z = np.load(path)
        return z["X"], z["gps"]
    from dgae.experiment import describe
    from dgae.datasets import make_city_world

    w = make_city_world(n_images=n, image_size=128, random_state=seed, n_jobs=-1)
    X, _ = describe(list(w.images), np.arange(n), 512, None, seed, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, X=X, gps=w.gps)
    return X, w.gps


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=5000, help="gallery photos")
    p.add_argument("--cache", default="benchmarks_out/cache")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from dgae import DGAE, GeoKNN

    X, gps = features(args.n, args.cache, args.seed)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{args.n} photos, Im2GPS descriptors {X.shape}; {cores} CPU core(s) usable", flush=True)
    t = time.perf_counter()
    model = DGAE(random_state=args.seed).fit(X, gps)
    total = time.perf_counter() - t
    rows = [(f"DGAE() {k}", v) for k, v in model.fit_times_.items()] + [("DGAE() fit, total", total)]
    t = time.perf_counter()
    GeoKNN().fit(X, gps)
    rows.append(("reference: GeoKNN (LF) fit", time.perf_counter() - t))
    sys.path.insert(0, str(EXPERIMENTS))
    from _peers import LinearPeer

    t = time.perf_counter()
    LinearPeer("lda").fit(X, gps)
    rows.append(("reference: PCA(256) + LDA fit", time.perf_counter() - t))
    print(f"\n{'stage':<34}{'seconds':>10}")
    for name, sec in rows:
        print(f"{name:<34}{sec:>10.1f}")
    print(f"\ntraining: {model.n_iter_} iterations (best {model.best_iter_}), batch "
          f"{model.batch_size_ or 'full'}, {len(model.poi_miner_.cluster_sizes_)} POIs, "
          f"P {model.P_.nnz} pairs, Q {model.Q_.nnz} pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
