"""The head stage's search: held-out photos among training photos in every retrieval space.

``DGAE.fit`` locates its held-out photos (at most 5,000) among its training photos in each
candidate retrieval space -- the code, the raw input and three mixes
(:func:`dgae.heads.space_neighbors`) -- to choose the space, the head and the confidence.
Exactly, that is one pass over the wide input (2,971 Im2GPS values) per held-out photo and
training photo; from ``REDUCED_MIN_TRAIN`` training photos on, ``fit`` hands over the
whitening's principal components and the pass runs on them, re-ranking 4 k candidates a space
by exact distances.  This bench times both passes on the same rows and reports, per input
share, the share of each held-out photo's k exact nearest that the reduced pass finds and how
often its nearest lies at the exact nearest's distance (duplicate photos tie).

Photos: ``bench_scale``'s replica at ``--n`` (its 256 components hold about 63 % of the
variance: a hard case), or ``--npy``, a saved (n, d) descriptor matrix (e.g. the Im2GPS cache
``experiments/photos.py`` writes).  Held out: ``--held`` random photos.  Code: a 128-wide
sigmoid of a random projection of the components (a stand-in for a trained code; only the
input block is approximated).  Components: scikit-learn's randomized PCA fitted on at most
30,000 training photos, as the whitening fits on a sample.

Example::

    python benchmarks/bench_space_search.py --n 250000
    python benchmarks/bench_space_search.py --npy experiments_out/world_heading/cache/world_streetview_heading_im2gps.npy --held 500
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

K = 120  # the neighbours fit searches each held-out photo for (the Mean-Shift head's)
CHUNK = 16_384


def components(X, train, n_components, seed):
    """float32 principal-component scores of every row, fitted on <= 30,000 training rows."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(train, min(len(train), 30_000), replace=False))
    pca = PCA(n_components, svd_solver="randomized", random_state=seed).fit(X[fit_rows])
    Z = np.empty((len(X), pca.n_components_), np.float32)
    for r0 in range(0, len(X), CHUNK):
        Z[r0:r0 + CHUNK] = pca.transform(X[r0:r0 + CHUNK])
    return Z, float(pca.explained_variance_ratio_.sum())


def true_d2(C, X, train, held, picked, share, scales):
    """float64 squared distance of each held-out photo to its picked training photo in the
    space of ``share`` (ties between duplicate photos compare equal)."""
    rows = train[picked]
    dc = ((C[held].astype(np.float64) - C[rows]) ** 2).sum(axis=1) * scales[0] ** 2
    dx = ((X[held].astype(np.float64) - X[rows]) ** 2).sum(axis=1) * scales[1] ** 2
    return (1.0 - share) * dc + share * dx


def main(argv=None):
    from dgae.heads import block_scale, space_neighbors

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=250_000, help="replica photos (without --npy)")
    p.add_argument("--npy", default=None, help="a saved (n, d) descriptor matrix instead")
    p.add_argument("--held", type=int, default=5000, help="held-out photos")
    p.add_argument("--components", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.npy:
        X, source = np.load(args.npy).astype(np.float32), Path(args.npy).name
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_scale import replica_features
        X, source = replica_features(args.n, n_queries=1, seed=args.seed)[0], "replica"
    rng = np.random.default_rng(args.seed)
    held = np.sort(rng.choice(len(X), min(args.held, len(X) // 2), replace=False))
    train = np.setdiff1d(np.arange(len(X)), held)
    t0 = time.perf_counter()
    Z, explained = components(X, train, args.components, args.seed)
    t_pca = time.perf_counter() - t0
    proj = rng.normal(size=(Z.shape[1], 128)).astype(np.float32)
    C = (1.0 / (1.0 + np.exp(-(Z @ proj) / np.sqrt(Z.shape[1])))).astype(np.float32)
    scales = (block_scale(C, train), block_scale(X, train))
    shares, k = (0.0, 0.25, 0.5, 0.75, 1.0), min(K, len(train))
    runs = {}
    for name, kw in (("exact", {"reduced_min_train": len(train) + 1}),
                     ("reduced", {"reduced": (Z, np.ones(Z.shape[1], np.float32)),
                                  "reduced_min_train": 0})):
        t0 = time.perf_counter()
        runs[name] = (space_neighbors(C, X, train, held, shares, scales, k, **kw),
                      time.perf_counter() - t0)
    exact, t_exact = runs["exact"]
    red, t_red = runs["reduced"]
    print(f"{source}: {len(train):,} training photos x {X.shape[1]}, {len(held):,} held out, "
          f"k = {k}; {Z.shape[1]} components hold {100 * explained:.1f} % of the variance "
          f"(PCA {t_pca:.1f} s, not counted: fit has them)")
    print(f"{'pass':<10}{'seconds':>9}" + "".join(f"{'share ' + format(s, 'g'):>12}" for s in shares))
    print(f"{'exact':<10}{t_exact:9.1f}")
    found = [np.mean([np.intersect1d(red[s][1][i], exact[s][1][i]).size for i in
                      range(len(held))]) / k for s in shares]
    first = [np.mean(np.isclose(*(true_d2(C, X, train, held, picks[s][1][:, 0], s, scales)
                                  for picks in (red, exact)), rtol=1e-6)) for s in shares]
    print(f"{'reduced':<10}{t_red:9.1f}" + "".join(f"{100 * f:11.1f}%" for f in found)
          + "   of the k exact nearest found")
    print(f"{'':<19}" + "".join(f"{100 * f:11.1f}%" for f in first) + "   nearest at the exact distance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
