"""Benchmark of dgae.graphs: POI mining vs scikit-learn, and the P / Q graphs.

Prints two tables:

1. POIMiner vs ``sklearn.cluster.MeanShift(bin_seeding=True)`` on the same
   unit-vector coordinates (chord bandwidth) of MP-16 photos: time, ratio,
   adjusted Rand index; then POIMiner alone on larger sets (MP-16 100k, and
   the synthetic 35-area replica's GPS, mined per area).
2. P, exact Q, anchor Q (fDGAE) and ANN Q on synthetic clustered features
   (POIs from the replica's GPS; each POI mixes 1-5 "looks" drawn from a
   world-wide pool, so distant POIs look alike): time and recall against
   exact Q (on a random sample of rows when exact Q is skipped).  ANN times
   exclude pynndescent's one-off numba compile (done first, untimed).

Examples::

    python benchmarks/bench_graphs.py                       # defaults below
    python benchmarks/bench_graphs.py --sklearn-sizes 2000 --alone-sizes 100000 \
        --graph-sizes 5000 --dims 256
    python benchmarks/bench_graphs.py --sklearn-sizes --alone-sizes --synthetic-n 0 \
        --graph-sizes 664720 --methods exact --device gpu   # the full exact Q on a GPU
"""
import argparse
import time
from pathlib import Path

import numpy as np

from dgae.utils import km_to_chord, to_unit_vectors
from dgae.graphs import PAPER_POI_BANDWIDTH_KM, POIMiner, easy_confusing_pairs, same_area_pairs
from dgae.graphs import exact_q_table

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def mp16(n):
    """First ``n`` MP-16 photo coordinates ``[lat, lon]``."""
    path = DATA / "gps" / "mp16_coordinates_100k.csv"
    return np.loadtxt(path, delimiter=",", skiprows=1, max_rows=n)


def replica_gps(n, seed=0):
    """GPS and area of ``n`` photos of the synthetic 35-area replica (dgae's own generator)."""
    from dgae.datasets import city_world_layout

    layout = city_world_layout(n, np.random.default_rng(seed))
    return layout.gps, layout.area


def timed(f, *args, **kwargs):
    t = time.perf_counter()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - t


def bench_poi(args):
    from sklearn.cluster import MeanShift
    from sklearn.metrics import adjusted_rand_score

    print(f"\n## POI mining (bandwidth {args.bandwidth_km:g} km)\n")
    print("| data | n | POIs | ours (s) | sklearn (s) | ratio | ARI |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    chord = float(km_to_chord(args.bandwidth_km))
    for n in args.sklearn_sizes:
        gps = mp16(n)
        ours, t_ours = timed(POIMiner(args.bandwidth_km).fit, gps)
        ref, t_ref = timed(MeanShift(bandwidth=chord, bin_seeding=True).fit, to_unit_vectors(gps))
        ari = adjusted_rand_score(ref.labels_, ours.labels_)
        print(f"| MP-16 | {n:,} | {ours.n_clusters_:,} | {t_ours:.2f} | {t_ref:.1f} | "
              f"{t_ref / t_ours:.0f}x | {ari:.4f} |", flush=True)
    for n in args.alone_sizes:
        ours, t = timed(POIMiner(args.bandwidth_km).fit, mp16(n))
        print(f"| MP-16 | {n:,} | {ours.n_clusters_:,} | {t:.2f} | - | - | - |", flush=True)
    if args.synthetic_n:
        gps, area = replica_gps(args.synthetic_n)
        ours, t = timed(POIMiner(args.bandwidth_km, n_jobs=args.n_jobs).fit, gps, areas=area)
        print(f"| replica, 35 areas | {len(gps):,} | {ours.n_clusters_:,} | {t:.2f} | - | - | - |",
              flush=True)


def clustered_features(poi, d, seed=0):
    """Features whose visual clusters ("looks") cut across POIs, float32, non-negative."""
    rng = np.random.default_rng(seed)
    n_poi, n = poi.max() + 1, len(poi)
    looks = rng.normal(size=(max(8, n // 200), d)).astype(np.float32)
    poi_looks = rng.integers(0, len(looks), size=(n_poi, 5))
    n_looks = rng.integers(1, 6, n_poi)
    which = poi_looks[poi, (rng.random(n) * n_looks[poi]).astype(int)]
    X = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 20000):  # chunks keep the float64 noise small
        e = min(s + 20000, n)
        X[s:e] = np.abs(looks[which[s:e]] + 0.6 * rng.standard_normal((e - s, d), dtype=np.float32))
    return X


def row_recall(Q, exact_rows, rows):
    """Fraction of the exact neighbours of ``rows`` that ``Q`` found."""
    hit = tot = 0
    for r, ex in zip(rows, exact_rows):
        ex = ex[ex >= 0]
        hit += np.isin(ex, Q.indices[Q.indptr[r]:Q.indptr[r + 1]]).sum()
        tot += ex.size
    return hit / tot


def warm_up_ann():
    """Pay pynndescent's one-off numba compile (30-100 s) outside the timings."""
    rng = np.random.default_rng(0)
    X = rng.random((300, 8), dtype=np.float32)
    easy_confusing_pairs(X, rng.integers(0, 5, 300), 5, method="ann", random_state=0)


def bench_graphs(args):
    if "ann" in args.methods:
        warm_up_ann()
    print(f"\n## P and Q graphs (d = {args.dims}, k1 = {args.k1}, k2 = {args.k2}, "
          f"k3 = {args.k3}, device = {args.device})\n")
    print("| n | POIs | graph | time (s) | recall vs exact |")
    print("|---:|---:|---|---:|---:|")
    for n in args.graph_sizes:
        gps, area = replica_gps(n, seed=1)
        poi = POIMiner(args.bandwidth_km).fit(gps, areas=area).labels_
        X = clustered_features(poi, args.dims)
        row = f"| {n:,} | {poi.max() + 1:,} |"
        if "P" in args.methods:
            _, t = timed(same_area_pairs, X, poi, args.k1, device=args.device)
            print(f"{row} P | {t:.1f} | exact |", flush=True)
        exact = None
        if "exact" in args.methods:
            exact, t = timed(easy_confusing_pairs, X, poi, args.k2, device=args.device)
            print(f"{row} Q exact | {t:.1f} | 1 |", flush=True)
        rng = np.random.default_rng(0)
        rows = np.arange(n) if exact is not None else np.sort(
            rng.choice(n, min(n, args.recall_rows), replace=False))
        if exact is not None:
            exact_rows = [exact.indices[exact.indptr[r]:exact.indptr[r + 1]] for r in rows]
        elif {"anchor", "ann"} & set(args.methods):
            exact_rows = exact_q_table(X, poi, args.k2, device=args.device, rows=rows)
        for m in ("anchor", "ann"):
            if m in args.methods:
                Q, t = timed(easy_confusing_pairs, X, poi, args.k2, method=m, k3=args.k3,
                             device=args.device, n_jobs=args.n_jobs, random_state=0)
                sampled = "" if exact is not None else f" ({len(rows):,} rows)"
                print(f"{row} Q {m} | {t:.1f} | {row_recall(Q, exact_rows, rows):.4f}{sampled} |",
                      flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bandwidth-km", type=float, default=PAPER_POI_BANDWIDTH_KM,
                   help="POI bandwidth, km (default: the paper's 0.005 degrees)")
    p.add_argument("--sklearn-sizes", type=int, nargs="*", default=[5000, 10000],
                   help="MP-16 sizes run side by side with sklearn MeanShift")
    p.add_argument("--alone-sizes", type=int, nargs="*", default=[100000],
                   help="MP-16 sizes for POIMiner alone")
    p.add_argument("--synthetic-n", type=int, default=664720,
                   help="photos of the 35-area replica for POIMiner alone (0: skip)")
    p.add_argument("--graph-sizes", type=int, nargs="*", default=[20000])
    p.add_argument("--dims", type=int, default=2971)
    p.add_argument("--methods", nargs="*", default=["P", "exact", "anchor", "ann"],
                   choices=["P", "exact", "anchor", "ann"])
    p.add_argument("--k1", type=int, default=20)
    p.add_argument("--k2", type=int, default=10)
    p.add_argument("--k3", type=int, default=100)
    p.add_argument("--recall-rows", type=int, default=2000,
                   help="rows whose exact Q is computed for recall when exact Q is skipped")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument("--n-jobs", type=int, default=None)
    args = p.parse_args(argv)
    if args.sklearn_sizes or args.alone_sizes or args.synthetic_n:
        bench_poi(args)
    if args.graph_sizes:
        bench_graphs(args)


if __name__ == "__main__":
    main()
