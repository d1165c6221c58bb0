"""A gallery spread over Dask workers (``dgae.graphs.ShardedIndex``): bytes a photo, shard build
and query throughput at 1-5 M photos, and the 100 M extrapolation.

Protocol: ``--n`` gallery codes (128-d float32, DGAE's default code width; Gaussian clusters as
``bench_ann.py`` draws them, in 128-d) and 1,000 queries of the same law; a ``LocalCluster`` of
``--workers`` worker processes (one thread each) on this machine; for each shard kind:

* exact -- each worker holds its rows (4 x 128 bytes a photo) and searches them with the
  blocked GEMM engine; the merged top-k equals one machine's exact search (checked here on the
  first 100 queries against ``dgae.utils.nearest_neighbors``);
* faiss-ivfpq -- each worker holds a faiss IVF-PQ index of its rows (the ``faiss`` extra;
  skipped without it); recall@10 against exact.

Columns: build s (rows sent to the workers and indexed there), queries/s (1,000 queries, k=10,
through the scheduler), recall@10, bytes a photo on the workers.  The 100 M row extrapolates
build and query time with the exponent fitted over the sizes run (seconds = a n^b), and memory
linearly.

Example::

    python benchmarks/bench_shards.py --sizes 1000000,2000000,5000000
"""
import argparse
import time

import numpy as np

CODE_DIM = 128
N_QUERIES = 1000
K = 10


def make_codes(n, seed, n_clusters=10_000):
    """Clustered 128-d float32 vectors (rows generated in blocks: bounded memory)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, CODE_DIM)).astype(np.float32)
    out = np.empty((n, CODE_DIM), np.float32)
    for r0 in range(0, n, 500_000):
        r1 = min(r0 + 500_000, n)
        out[r0:r1] = centres[rng.integers(0, n_clusters, r1 - r0)]
        out[r0:r1] += rng.normal(scale=0.5, size=(r1 - r0, CODE_DIM)).astype(np.float32)
    return out


def run(kind, X, Q, exact_idx):
    from dgae.graphs import FaissIndex, ShardedIndex

    index = "exact" if kind == "exact" else FaissIndex(kind="ivfpq", random_state=0)
    t0 = time.perf_counter()
    sharded = ShardedIndex(index).fit(X)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, idx = sharded.query(Q, K)
    query = time.perf_counter() - t0
    recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(idx[:100], exact_idx)])
    if kind == "exact":
        bytes_per_photo = 4.0 * CODE_DIM
    else:
        client = sharded.shards_[0].client
        sizes = client.gather([client.submit(lambda s: s[1].bytes_per_photo_ * s[0], f)
                               for f in sharded.shards_])
        bytes_per_photo = float(sum(sizes)) / len(X)
    return build, len(Q) / query, recall, bytes_per_photo


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000000,2000000,5000000")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--kinds", default="exact,faiss-ivfpq",
                   help="shard kinds (faiss-ivfpq needs the faiss extra)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from distributed import Client, LocalCluster

    from dgae.utils import nearest_neighbors

    kinds = tuple(args.kinds.split(","))
    try:
        import faiss  # noqa: F401 (the faiss rows need it)
    except ImportError:
        kinds = tuple(k for k in kinds if k == "exact")
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = {kind: [] for kind in kinds}
    print(f"{args.workers} worker processes x 1 thread; {N_QUERIES} queries, k={K}, "
          f"{CODE_DIM}-d float32 codes; seed {args.seed}")
    print(f"{'n':>10} {'kind':>12} {'build s':>9} {'queries/s':>10} {'recall@10':>10} "
          f"{'bytes/photo':>12}")
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        for n in sizes:
            X = make_codes(n, args.seed)
            Q = make_codes(N_QUERIES, args.seed + 1)
            _, exact_idx = nearest_neighbors(Q[:100], X, K, device="cpu")
            for kind in kinds:
                build, qps, recall, bpp = run(kind, X, Q, exact_idx)
                rows[kind].append((n, build, N_QUERIES / qps))
                print(f"{n:>10,} {kind:>12} {build:>9.1f} {qps:>10.1f} {recall:>10.3f} "
                      f"{bpp:>12.1f}", flush=True)
            del X
    if len(sizes) > 1:
        print("\nextrapolated to 100,000,000 photos (seconds = a n^b over the sizes above):")
        for kind, r in rows.items():
            n, build, query = (np.array(c, float) for c in zip(*r))
            for what, y in (("build", build), ("1,000 queries", query)):
                b, log_a = np.polyfit(np.log(n), np.log(y), 1)
                print(f"  {kind:>12} {what:>14}: exponent {b:.2f}, "
                      f"{np.exp(log_a) * 1e8 ** b:,.0f} s at 100 M on {args.workers} workers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
