"""The paper's pipeline at scale: seconds and peak resident memory of every stage at N photos.

Photos: the replica's layout at that size (``make_city_world``'s areas, POIs
with Zipf popularity and 50 m - 3 km spreads, 15 % scattered; no rendering),
with descriptors drawn so that P and Q are non-trivial: each photo is its
POI's look (a scene prototype shared by every area + the area's style + the
POI's own vector) plus noise, in D = 2,971 float32 dimensions; scattered
photos have no POI vector.  1,000 extra photos drawn the same way are the
queries.

Stages (each timed alone; peak RSS sampled every 20 ms while it runs):
POI mining (``POIMiner``, auto bandwidth), P (``same_area_pairs``, k1 = 20),
Q exact and Q anchor (``easy_confusing_pairs``, k2 = 10, 25 km floor), then a
default ``DGAE(graph="anchor", max_iter=1, early_stopping=False)`` fit whose
``fit_times_`` give input scaling (PCA whitening), one training epoch and the
gallery index, and ``predict`` of the queries.  ``--skip`` leaves stages out
(e.g. ``q_exact`` where it would take hours).  ``--q-proxy``: the fit's Q is
not searched but drawn with the same shape (``k2`` random photos of other
POIs per photo) -- for timing the fit's other stages (its ``graphs`` lap is
then POI mining + P only) where the Q search would take hours; a proxy for
timing, not a model to evaluate.

``--end-to-end``: the paper's Table 6 end to end -- only a default
``DGAE(graph="anchor")`` fit (its real anchor Q, early stopping, the head and
confidence chosen; ``--graph exact``: the exact Q, as on a GPU) and the 1,000 queries; each ``fit_times_`` stage beside the
paper's hours, the fit's peak memory, and the queries' accuracy as a sanity check;
with ``--pq`` the queries again with the gallery codes in faiss IVF-Flat and IVF-PQ indexes of
32 and 16 bytes a photo (the ``faiss`` extra; ``experiments/compressed_codes.py``'s rows):
what compression costs at that size.

Example::

    python benchmarks/bench_scale.py --n 20000 > scale_20k.log      # and 50000, 100000
    python benchmarks/bench_scale.py --fit scale_20k.log scale_50k.log scale_100k.log
    python benchmarks/bench_scale.py --n 664720 --skip q_exact --device gpu
    python benchmarks/bench_scale.py --n 664720 --skip p,q_exact,q_anchor --q-proxy
    python benchmarks/bench_scale.py --n 664720 --end-to-end --verbose 1
    python benchmarks/bench_scale.py --n 664720 --end-to-end --graph exact --device gpu
    python benchmarks/bench_scale.py --n 100000 --end-to-end --pq
"""
import argparse
import os
import threading
import time

import numpy as np

D = 2971
#: The paper's Table 6 (664,720 photos, its hardware), hours.
PAPER_TABLE6_H = {"poi": 5.33, "graph": 20.22, "fast graph": 12.16, "training": 18.32, "test": 0.03}


def replica_features(n, n_queries=1000, seed=0, dim=D):
    """(X (n, dim), gps (n, 2), Xq, gps_q): the replica's layout, structured descriptors."""
    from dgae.datasets import city_world_layout, load_areas

    rng = np.random.default_rng(seed)
    table = load_areas()
    layout = city_world_layout(n + n_queries, rng, photos_per_poi=30.0)
    gps, area, poi, poi_area = layout.gps, layout.area, layout.poi, layout.poi_area
    order = rng.permutation(len(gps))
    gps, area, poi = gps[order], area[order], poi[order]
    scenes = rng.standard_normal((8, dim), dtype=np.float32)
    styles = 0.6 * rng.standard_normal((len(table.name), dim), dtype=np.float32)
    poi_scene = rng.integers(0, 8, len(poi_area))
    X = np.empty((len(gps), dim), np.float32)
    for s in range(0, len(gps), 20000):          # in blocks: bounded temporaries
        rows = slice(s, s + 20000)
        p = poi[rows]
        scene = np.where(p >= 0, poi_scene[np.maximum(p, 0)], rng.integers(0, 8, len(p)))
        look = scenes[scene] + styles[area[rows]]
        has = p >= 0
        # the POI's own vector, drawn from a generator seeded by the POI id (same for every photo)
        look[has] += 0.8 * _poi_vectors(p[has], dim, seed)
        X[rows] = look + rng.standard_normal(look.shape, dtype=np.float32)
    return X[:n], gps[:n], X[n:], gps[n:]


def _poi_vectors(ids, dim, seed):
    """A fixed N(0, I) vector per POI id (computed per unique id)."""
    uniq, inv = np.unique(ids, return_inverse=True)
    vecs = np.stack([np.random.default_rng([seed, 2, int(u)]).standard_normal(dim, np.float32)
                     for u in uniq])
    return vecs[inv]


def proxy_q(X, labels, k2, method, seed=0, **kwargs):
    """A Q of the searched one's shape: ``k2`` random photos of other POIs per photo (CSR)."""
    from dgae.utils import neighbors_to_csr

    rng = np.random.default_rng(seed)
    table = rng.integers(0, len(labels), (len(labels), k2))
    clash = labels[table] == labels[:, None]
    while clash.any():                         # redraw same-POI picks
        table[clash] = rng.integers(0, len(labels), int(clash.sum()))
        clash = labels[table] == labels[:, None]
    return neighbors_to_csr(table, len(labels))


class PeakRSS:
    """Peak resident memory (GiB) of this process while the block runs (sampled every 20 ms;
    the samples are kept, ``(perf_counter, GiB)``, for :func:`stage_peaks`)."""

    def __enter__(self):
        self.peak, self._stop = _rss(), threading.Event()
        self.samples = [(time.perf_counter(), self.peak)]
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.02):
            self.samples.append((time.perf_counter(), _rss()))
            self.peak = max(self.peak, self.samples[-1][1])

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), _rss()))
        self.peak = max(self.peak, self.samples[-1][1])


def stage_peaks(mem, start, laps):
    """``{stage: peak GiB}`` of a DGAE fit's stages: ``laps`` its ``fit_times_`` (successive
    seconds from the fit's ``start``, a ``perf_counter``), the samples those of :class:`PeakRSS`
    ``mem``."""
    peaks, t0 = {}, start
    for name, seconds in laps.items():
        t1 = t0 + seconds
        inside = [gib for t, gib in mem.samples if t0 <= t <= t1]
        peaks[name] = max(inside) if inside else float("nan")
        t0 = t1
    return peaks


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


def read_log(path):
    """(n, {stage: seconds}) from a log this script printed (skipped stages left out)."""
    n, stages = None, {}
    for line in open(path):
        if line.startswith("n = "):
            n = int(line.split()[2].replace(",", ""))
            continue
        parts = line.split("  ")
        name = parts[0].strip()
        rest = line[22:].split()
        if n and name and rest and rest[0].replace(".", "", 1).isdigit() and name != "stage":
            stages[name] = float(rest[0])
        if name.startswith("dgae: fit") and "train" in line:   # fit_times_ laps
            for item in line.split("  ", 1)[1].split(", "):
                key, sec = item.strip().split()[-3], float(item.strip().split()[-2])
                stages[f"dgae {key}"] = sec
    return n, stages


def extrapolate(runs, target):
    """Fit seconds = a n^b per stage (log-log least squares) and predict at ``target`` photos.

    Parameters
    ----------
    runs : list of (n, {stage: seconds})
        As :func:`read_log` returns them.

    Returns
    -------
    dict of stage -> (exponent b, seconds at target)

    Examples
    --------
    >>> extrapolate([(1000, {"q_exact": 1.0}), (4000, {"q_exact": 16.0})], 8000)["q_exact"]
    (2.0, 64.0)
    """
    out = {}
    for stage in sorted({s for _, st in runs for s in st}):
        pts = [(n, st[stage]) for n, st in runs if stage in st and st[stage] > 0]
        if len(pts) < 2:
            continue
        x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
        b, a = np.polyfit(x, y, 1)
        out[stage] = (round(float(b), 2), round(float(np.exp(a) * target ** b), 1))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fit", nargs="+", default=None, metavar="LOG",
                   help="instead of running: fit each stage's seconds = a n^b over these logs "
                        "and extrapolate to --target photos")
    p.add_argument("--target", type=int, default=664_720)
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--skip", default="", help="stages to leave out, comma-separated "
                   "(poi, p, q_exact, q_anchor, dgae)")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu", "auto"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=0, help="DGAE's progress bars (stderr)")
    p.add_argument("--end-to-end", action="store_true",
                   help="only a default DGAE(graph='anchor') fit and the queries, beside Table 6")
    p.add_argument("--graph", default="anchor", choices=["anchor", "exact"],
                   help="--end-to-end: the fit's Q (DGAE's graph)")
    p.add_argument("--pq", action="store_true",
                   help="--end-to-end: also the queries with the codes in faiss indexes")
    p.add_argument("--max-iter", type=int, default=None,
                   help="--end-to-end: cap the fit's training iterations (default: DGAE's)")
    p.add_argument("--q-proxy", action="store_true",
                   help="the DGAE fit draws a same-shaped random Q instead of searching one "
                        "(timing of the other stages only)")
    args = p.parse_args(argv)
    if args.fit:
        print(f"{'stage':<22}{'exponent':>10}{f'seconds at {args.target:,}':>22}")
        for stage, (b, sec) in extrapolate([read_log(f) for f in args.fit], args.target).items():
            print(f"{stage:<22}{b:>10.2f}{sec:>22,.0f}")
        return 0
    from dgae import DGAE
    from dgae.graphs import POIMiner, auto_poi_bandwidth_km, easy_confusing_pairs, same_area_pairs

    skip = set(filter(None, args.skip.split(",")))
    t = time.perf_counter()
    X, gps, Xq, gps_q = replica_features(args.n, seed=args.seed)
    print(f"n = {args.n:,} photos x {D} float32 ({X.nbytes / 2**30:.1f} GiB), "
          f"generated in {time.perf_counter() - t:.0f} s; device {args.device}", flush=True)
    if args.end_to_end:
        return end_to_end(X, gps, Xq, gps_q, args)
    print(f"{'stage':<22}{'seconds':>10}{'peak GiB':>10}  note")
    labels = None

    def stage(name, fn, note=""):
        if name.split(":")[0] in skip:
            print(f"{name:<22}{'skipped':>10}")
            return None
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            out = fn()
            sec = time.perf_counter() - t0
        print(f"{name:<22}{sec:>10.1f}{mem.peak:>10.2f}  {note(out) if callable(note) else note}",
              flush=True)
        return out

    miner = stage("poi", lambda: POIMiner(bandwidth_km=auto_poi_bandwidth_km(gps)).fit(gps),
                  lambda m: f"{len(np.unique(m.labels_)):,} POIs")
    labels = miner.labels_.astype(np.int64) if miner is not None else np.arange(args.n) // 30
    stage("p", lambda: same_area_pairs(X, labels, 20, device=args.device),
          lambda P: f"{P.nnz:,} pairs")
    q_exact = stage("q_exact", lambda: easy_confusing_pairs(X, labels, 10, device=args.device,
                                                           gps=gps, q_min_km=25.0),
                    lambda Q: f"{Q.nnz:,} pairs")
    stage("q_anchor", lambda: easy_confusing_pairs(X, labels, 10, method="anchor",
                                                  device=args.device, gps=gps, q_min_km=25.0,
                                                  random_state=args.seed),
          lambda Q: f"{Q.nnz:,} pairs" + ("" if q_exact is None else
                                          f", recall vs exact {Q.multiply(q_exact).nnz / q_exact.nnz:.3f}"))
    if args.q_proxy:
        from dgae.graphs import _build

        _build._easy_confusing_pairs = proxy_q
    model = DGAE(graph="anchor", max_iter=1, early_stopping=False, device=args.device,
                 random_state=args.seed, verbose=args.verbose)
    fitted = stage("dgae: fit, 1 epoch", lambda: model.fit(X, gps),
                   lambda m: ", ".join(f"{k} {v:.1f} s" for k, v in m.fit_times_.items()))
    if fitted is not None:
        stage("dgae: 1,000 queries", lambda: fitted.predict(Xq))
    return 0


def training_rounds(model):
    """"N iterations" (full batch), or "N rounds of S steps (R an epoch)" (mini-batches)."""
    from dgae.autoencoder import rounds_per_epoch

    if model.batch_size_ is None:
        return f"{model.n_iter_} iterations"
    n = len(model.training_indices_)
    per = rounds_per_epoch(n, model.batch_size_)
    steps = -(-n // model.batch_size_) / per
    return f"{model.n_iter_} rounds of {steps:.0f} steps, {per} an epoch"


def end_to_end(X, gps, Xq, gps_q, args):
    """A default ``DGAE(graph=args.graph)`` fit and ``predict`` of the queries, timed stage by
    stage (``fit_times_``) beside the paper's Table 6; peak resident memory of each."""
    from dgae import DGAE
    from dgae.metrics import accuracy_at, geolocation_errors_km

    kw = {} if args.max_iter is None else {"max_iter": args.max_iter}
    model = DGAE(graph=args.graph, device=args.device, random_state=args.seed,
                 verbose=args.verbose, **kw)
    with PeakRSS() as fit_mem:
        t = time.perf_counter()
        model.fit(X, gps)
        fit_s = time.perf_counter() - t
    peaks = stage_peaks(fit_mem, t, model.fit_times_)
    with PeakRSS() as query_mem:
        t = time.perf_counter()
        pred = model.predict(Xq)
        query_s = time.perf_counter() - t
    laps, h = model.fit_times_, PAPER_TABLE6_H
    graph = "fast graph" if args.graph == "anchor" else "graph"
    rows = [(f"input scaling (PCA whitening; peak {peaks['scale']:.2f} GiB)", laps["scale"], "-"),
            (f"POIs, P and {args.graph} Q (graphs; {peaks['graphs']:.2f})", laps["graphs"],
             f"{h['poi']} + {h[graph]} (POI mining + {graph})"),
            (f"training ({training_rounds(model)}, best {model.best_iter_}; "
             f"{peaks['train']:.2f})", laps["train"], f"{h['training']}"),
            (f"gallery codes and index ({peaks['index']:.2f})", laps["index"], "-"),
            (f"head and confidence ({peaks['head']:.2f})", laps["head"], "-"),
            (f"fit, all (peak {max(peaks.values()):.2f} GiB)", fit_s,
             f"{h['poi'] + h[graph] + h['training']:.2f}"),
            (f"{len(Xq):,} queries (peak {query_mem.peak:.2f} GiB)", query_s, f"{h['test']} (test)")]
    print(f"\nEnd to end, n = {len(X):,}, device {args.device}, seed {args.seed}; "
          f"Q {model.Q_.nnz:,} pairs, head {model.head_label_}")
    print(f"{'stage':<58}{'seconds':>10}{'hours':>8}  paper (hours)")
    for name, sec, paper in rows:
        print(f"{name:<58}{sec:>10.1f}{sec / 3600:>8.2f}  {paper}")
    if model.validation_scores_ is not None:
        print("early-stopping score by iteration: "
              + " ".join(f"{v:.3f}" for v in model.validation_scores_))
    err = geolocation_errors_km(gps_q, pred)
    acc = accuracy_at(gps_q, pred, model.thresholds_km_)
    print("queries: " + ", ".join(f"{100 * v:.1f} % within {k:g} km" for k, v in acc.items())
          + f"; median {np.median(err):.1f} km (replica descriptors: a sanity check)")
    if args.pq:  # the rows of experiments/compressed_codes.py, on this gallery
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
        from compressed_codes import index_rows

        print()
        index_rows(model, Xq, gps_q, model.thresholds_km_)
    return 0


if __name__ == "__main__":
    main()
