"""Approximate gallery search against exact search: build seconds, queries/s, recall@1 and @10.

Vectors (``--n`` of them, 512-d float32) from a fixed generator
(``numpy.random.default_rng(--seed)``): 10,000 Gaussian clusters with N(0, I)
centres; each cluster spreads its members 0.5 along a random 64-d subspace of
its own (a 512 x 64 Gaussian basis / sqrt(512)) plus 0.05 in every dimension;
1,000 queries drawn the same way (a random cluster, a new member).

Rows, same queries, same run:

* exact -- ``dgae.graphs.nearest_neighbors`` (the library's blocked GEMM
  search, CPU): the reference every recall is measured against;
* pynndescent -- what ``GeoKNN(index="ann")`` (DGAE's ``knn=GeoKNN(index="ann")``) builds
  (``pynndescent.NNDescent``, default parameters), queried with its default
  ``epsilon=0.1`` and with 0.2 / 0.3 ("pynndescent@0.2": a wider search, the
  same index), and built with a graph of degree 60 ("pynndescent-60");
* ivf -- what ``GeoKNN(index="ivf")`` builds (``dgae.graphs.IVFIndex``:
  sqrt(n) k-means lists, 8 probed); "ivf@P": P lists probed, the same index;
  "ivf-L@P": L lists;
* faiss-KIND@P -- what ``GeoKNN(index=FaissIndex(kind=KIND, n_probe=P))`` builds
  (``dgae.graphs.FaissIndex``, the ``faiss`` extra; skipped when faiss is absent): flat
  (exact), ivf (IVF-Flat, 4 sqrt(n) lists), ivfpq (IVF-PQ, 32 bytes a photo), hnsw (M 32,
  efSearch 128); "bytes/photo": the serialised index over n (exact / ivf: the float32
  vectors, 4 x 512).

``--photos DIR --features NPY``: also the 1-NN accuracy of ``GeoKNN`` exact vs
``index="ann"`` and ``index="ivf"`` on a photo collection's heading protocol
(features cached by ``experiments/photos.py``), on the descriptors and on the
codes of a default ``DGAE`` fitted on the gallery.

Example::

    python benchmarks/bench_ann.py --n 100000
    python benchmarks/bench_ann.py --n 1000000
"""
import argparse
import time

import numpy as np

N_CLUSTERS, DIM, SUBSPACE = 10_000, 512, 64


def clustered(n, n_queries, seed=0, n_clusters=N_CLUSTERS, dim=DIM, sub=SUBSPACE):
    """(gallery (n, dim), queries (n_queries, dim)) float32 from the fixed generator."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim), dtype=np.float32)
    member = rng.integers(0, n_clusters, n + n_queries)
    out = np.empty((n + n_queries, dim), np.float32)
    order = np.argsort(member, kind="stable")
    bounds = np.searchsorted(member[order], np.arange(n_clusters + 1))
    for c in range(n_clusters):
        rows = order[bounds[c]:bounds[c + 1]]
        basis = rng.standard_normal((dim, sub), dtype=np.float32) / np.sqrt(dim)
        z = rng.standard_normal((len(rows), sub), dtype=np.float32)
        out[rows] = centres[c] + 0.5 * z @ basis.T + 0.05 * rng.standard_normal(
            (len(rows), dim), dtype=np.float32)
    return out[:n], out[n:]


_BYTES = {}  # bytes per photo of the indexes that report it


def recall(found, truth, k):
    """Share of the true k nearest found among the first k returned."""
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))


def run_exact(X, Q, k):
    from dgae.graphs import nearest_neighbors

    nearest_neighbors(Q[:2], X[:1000], k, device="cpu")     # warm-up
    t = time.perf_counter()
    _, idx = nearest_neighbors(Q, X, k, device="cpu")
    return 0.0, time.perf_counter() - t, idx


_NND = {}


def run_pynndescent(X, Q, k, seed, epsilon=0.1, n_neighbors=30, keep=False):
    """pynndescent, built once per graph; ``epsilon`` widens the query's search; ``keep``:
    a search graph that keeps every edge (``diversify_prob=0``, pruning multiplier 3)."""
    import pynndescent

    build = 0.0
    key = (n_neighbors, keep)
    if key not in _NND:
        _NND.clear()                             # one index in memory at a time
        t = time.perf_counter()
        extra = dict(diversify_prob=0.0, pruning_degree_multiplier=3.0) if keep else {}
        _NND[key] = pynndescent.NNDescent(X, metric="euclidean", random_state=seed,
                                          n_neighbors=n_neighbors, **extra)
        _NND[key].prepare()
        build = time.perf_counter() - t
        _NND[key].query(Q[:2], k=k)              # numba compiles the query path on first use
    t = time.perf_counter()
    idx, _ = _NND[key].query(Q, k=k, epsilon=epsilon)
    return build, time.perf_counter() - t, idx


_IVF = {}


def run_ivf(X, Q, k, seed, n_lists="auto", n_probe=8):
    """``IVFIndex``, built once per list count; ``n_probe`` set per row."""
    from dgae.graphs import IVFIndex

    build = 0.0
    if n_lists not in _IVF:
        _IVF.clear()
        t = time.perf_counter()
        _IVF[n_lists] = IVFIndex(n_lists=n_lists, random_state=seed).fit(X)
        build = time.perf_counter() - t
    index = _IVF[n_lists].set_params(n_probe=n_probe)
    t = time.perf_counter()
    _, idx = index.query(Q, k)
    return build, time.perf_counter() - t, idx


def run_faiss(X, Q, k, seed, kind="hnsw", n_probe=16):
    """``dgae.graphs.FaissIndex(kind=...)`` (what ``GeoKNN(index=FaissIndex(...))`` builds)."""
    from dgae.graphs import FaissIndex

    t = time.perf_counter()
    index = FaissIndex(kind=kind, n_probe=n_probe, random_state=seed).fit(X)
    build = time.perf_counter() - t
    t = time.perf_counter()
    _, idx = index.query(Q, k)
    _BYTES[f"faiss-{kind}"] = index.bytes_per_photo_
    return build, time.perf_counter() - t, idx


INDEXES = ("exact", "ann", "ivf", "faiss")


def photo_accuracy(data_dir, features):
    """1-NN % within 1 km per index ("exact", "ann", "ivf") on a collection's heading protocol:
    on the descriptors (LF) and on the codes of a default ``DGAE`` fitted on the gallery."""
    from dgae import DGAE, GeoKNN
    from dgae.datasets import heading_holdout_split, load_geotagged
    from dgae.metrics import geolocation_errors_km

    data = load_geotagged(data_dir, "photos.csv", check_images=False)
    X = np.load(features)
    q, g = heading_holdout_split(np.asarray(data.frame["location_id"]), seed=0)
    dgae = DGAE(random_state=0).fit(X[g], data.gps[g])
    out = {}
    for rows, (G, Q) in (("LF", (X[g], X[q])), ("DGAE", (dgae.transform(X[g]), dgae.transform(X[q])))):
        for index in INDEXES:
            try:
                knn = GeoKNN(index=index, random_state=0).fit(G, data.gps[g])
            except ImportError:
                continue
            pred = knn.predict(Q)
            out[rows, index] = 100 * np.mean(geolocation_errors_km(data.gps[q], pred) <= 1.0)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--methods", default="exact,pynndescent,pynndescent@0.2,pynndescent@0.3,"
                   "ivf@1,ivf@2,ivf@4,ivf,ivf@16,faiss-flat,faiss-ivf,faiss-ivfpq,faiss-hnsw",
                   help="rows; pynndescent-K@E: graph degree K (default 30; 'Kk': keep every "
                        "edge of the search graph), query epsilon E (default 0.1); ivf-L@P: L "
                        "lists (default sqrt(n)), P probed (default 8); faiss-KIND@P: "
                        "FaissIndex(kind=KIND, n_probe=P); an index is built once per graph / "
                        "list count")
    p.add_argument("--photos", action="append", default=[], help="collection folder (repeat)")
    p.add_argument("--features", action="append", default=[], help="its cached features .npy")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    k = 10
    t = time.perf_counter()
    X, Q = clustered(args.n, args.queries, args.seed)
    print(f"{args.n:,} x {DIM} float32 gallery, {args.queries} queries "
          f"(generated in {time.perf_counter() - t:.0f} s)", flush=True)
    print(f"{'method':<16}{'build s':>10}{'queries/s':>12}{'recall@1':>10}{'recall@10':>11}"
          f"{'speed-up':>10}{'bytes/photo':>13}")
    truth, exact_qps = None, None
    for method in args.methods.split(","):
        try:
            name, _, eps = method.partition("@")
            name, _, degree = name.partition("-")
            keep = degree.endswith("k")
            build, sec, idx = {
                "exact": lambda: run_exact(X, Q, k),
                "pynndescent": lambda: run_pynndescent(X, Q, k, args.seed, float(eps or 0.1),
                                                       int(degree.rstrip("k") or 30), keep),
                "ivf": lambda: run_ivf(X, Q, k, args.seed, int(degree) if degree else "auto",
                                       int(eps or 8)),
                "faiss": lambda: run_faiss(X, Q, k, args.seed, degree or "hnsw",
                                           int(eps or 16))}[name]()
        except ImportError as exc:
            print(f"{method:<16} skipped ({exc})")
            continue
        qps = len(Q) / sec
        if method == "exact":
            truth, exact_qps = idx, qps
        r1 = recall(idx, truth, 1) if truth is not None else float("nan")
        r10 = recall(idx, truth, 10) if truth is not None else float("nan")
        speed = qps / exact_qps if exact_qps else float("nan")
        size = _BYTES.get(f"faiss-{degree or 'hnsw'}") if name == "faiss" else (
            4 * DIM if name in ("exact", "ivf") else None)
        print(f"{method:<16}{build:>10.1f}{qps:>12.0f}{r1:>10.3f}{r10:>11.3f}{speed:>9.1f}x"
              + (f"{size:>13.0f}" if size else f"{'':>13}"), flush=True)
    for data_dir, features in zip(args.photos, args.features):
        acc = photo_accuracy(data_dir, features)
        for rows in ("LF", "DGAE"):
            ex = acc[rows, "exact"]
            print(f"{data_dir}: {rows} 1-NN % within 1 km, exact {ex:.1f}, "
                  + ", ".join(f"{i} {acc[rows, i]:.1f} ({acc[rows, i] - ex:+.1f})"
                              for i in INDEXES[1:] if (rows, i) in acc))
    return 0


if __name__ == "__main__":
    main()
