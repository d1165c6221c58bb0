"""The DGAE paper's protocol end to end on the 35-area set (synthetic replica or real photos).

Descriptors -> POIs per area (mean-shift, 0.005 deg) -> graphs -> LF / AE / CNN /
DGAE / fDGAE -> 1-NN, Mean-Shift (and KDE) heads on a held-out test set (the
paper: 300 photos).  Prints the analogues of Tables 2 and 3 (city 25 km /
region 200 km / country 750 km / continent 2500 km, plus 1 km), Table 5 (best
of the top-k retrieved GPS, DGAE), Table 6 (timings: POI, graph, graph(f),
training, test) and Fig. 8 (accuracy within 200 km against the layer setting);
writes Figs. 5 and 6 (error curves) and Fig. 8 as PNGs.  The same tables
carry the other methods of the library (``--peers``: S2 / lat-lon / Delaunay
cell classification, classification-trained retrieval, MvMF, chance; on the
Im2GPS descriptors and, when the ``cnn`` extra is present, CNN features).

``--data synthetic`` uses :func:`dgae.datasets.make_city_world` — numbers on it
are NOT the paper's numbers.  ``--data PHOTOS.csv`` runs the same protocol on
real photos: a CSV with ``path,lat,lon,area`` (path relative to the CSV).

Example::

    python experiments/cities35.py --n-images 5000 --out experiments_out/cities35
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, cached, cnn_available, report, training_params  # noqa: E402
from _peers import PEER_ROWS, peer_row  # noqa: E402

from dgae.metrics import DEFAULT_THRESHOLDS_KM  # noqa: E402

PAPER_LEVELS = DEFAULT_THRESHOLDS_KM
#: Fig. 8 layer settings of the paper (scaled by --fig8-scale).
FIG8_SETTINGS = ((100,), (2000, 1000), (2000, 1000, 500), (2000, 1500, 1000, 500),
                 (2000, 1600, 1200, 800, 500))


def load_data(args, verbose):
    """(images or paths, gps, areas, description)."""
    if args.data == "synthetic":
        from dgae.datasets import make_city_world

        w = make_city_world(n_images=args.n_images, image_size=args.image_size,
                            random_state=args.seed, verbose=verbose)
        return list(w.images), w.gps, w.area, f"synthetic replica, {args.n_images} photos"
    from dgae.datasets import load_geotagged

    csv_path = Path(args.data)
    d = load_geotagged(csv_path.parent, csv_path)
    if "area" not in d.frame:
        raise SystemExit(f"{csv_path}: an 'area' column is needed (POIs are mined per area)")
    return [str(p) for p in d.paths], d.gps, np.asarray(d.frame["area"]), f"{csv_path}"


def topk_table(est, Xq, gps_q, k_max=5):
    """Table 5: % within each level for the best of the top-k retrieved GPS."""
    from dgae.metrics import geolocation_errors_km

    top = est.predict_topk(Xq, k_max)  # (n, k, 2)
    err = np.stack([geolocation_errors_km(gps_q, top[:, j]) for j in range(top.shape[1])], 1)
    lines = ["k      " + "  ".join(f"{t:>7g} km" for t in PAPER_LEVELS)]
    for k in range(1, top.shape[1] + 1):
        best = err[:, :k].min(axis=1)
        lines.append(f"top {k}  " + "  ".join(f"{100 * np.mean(best <= t):>10.1f}"
                                             for t in PAPER_LEVELS))
    return "\n".join(lines)


def timing_table(X, gps, areas, fit_exact_s, predict_s, n_q, params):
    """Table 6: POI mining, graph, graph(f), training and per-query test seconds."""
    from dgae.graphs import POIMiner, build_geo_graphs

    t = time.perf_counter()
    km = params.get("poi_bandwidth_km")
    POIMiner(bandwidth_km=None if km in (None, "auto") else km).fit(gps, areas=areas)
    poi = time.perf_counter() - t
    kw = dict(k1=params.get("k1", 20), k2=params.get("k2", 10), random_state=0)
    t = time.perf_counter()
    build_geo_graphs(X, gps, areas=areas, method="exact", **kw)
    graph = time.perf_counter() - t - poi
    t = time.perf_counter()
    build_geo_graphs(X, gps, areas=areas, method="anchor", **kw)
    graph_f = time.perf_counter() - t - poi
    training = fit_exact_s - poi - graph
    return ("POI      graph    graph(f)  training  test (per query)\n"
            f"{poi:7.2f}  {graph:7.2f}  {graph_f:8.2f}  {training:8.2f}  {predict_s / n_q:.4f}  "
            "(seconds)")


def fig8(X, gps, areas, q, g, base, scale, out, lf_errors, head, verbose):
    """Accuracy within 200 km (``head``) for the paper's layer settings (scaled)."""
    from dgae import DGAE, GeoKNN
    from dgae.metrics import geolocation_errors_km

    acc = [float(np.mean(lf_errors <= 200))]
    labels = ["0 (LF)"]
    for sizes in FIG8_SETTINGS:
        sizes = tuple(max(8, int(round(s * scale))) for s in sizes)
        est = DGAE(**{**base, "hidden_layer_sizes": sizes}).fit(X[g], gps[g], areas=areas[g])
        pred = GeoKNN(head=head).fit(est.transform(X[g]), gps[g]).predict(est.transform(X[q]))
        acc.append(float(np.mean(geolocation_errors_km(gps[q], pred) <= 200)))
        labels.append(str(list(sizes)))
        if verbose:
            print(f"  Fig. 8 {sizes}: {100 * acc[-1]:.1f} % within 200 km", flush=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(range(len(acc)), [100 * a for a in acc])
    ax.set_xticks(range(len(acc)), [str(i) for i in range(len(acc))])
    ax.set_xlabel("number of hidden layers (0: low-level features only)")
    ax.set_ylabel(f"% within 200 km ({head})")
    fig.savefig(Path(out) / "fig8_layers.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return "\n".join(f"{i}  {lab:<28} {100 * a:5.1f} %" for i, (lab, a) in enumerate(zip(labels, acc)))


def peers(spec):
    """The peer rows named by ``--peers`` (the heads already give LF Mean-Shift / KDE).

    Examples
    --------
    >>> peers("MvMF,Chance"), len(peers("all")), peers("none")
    (['MvMF', 'Chance'], 11, [])
    """
    if spec == "none":
        return []
    names = [n for n in PEER_ROWS if not n.startswith("LF ")] if spec == "all" else spec.split(",")
    unknown = sorted(set(names) - set(PEER_ROWS))
    if unknown:
        raise SystemExit(f"--peers: unknown rows {unknown}; choose from {list(PEER_ROWS)}")
    return names


def main(argv=None):
    p = base_parser(__doc__.split("\n\n")[0], "experiments_out/cities35")
    p.add_argument("--data", default="synthetic", help="'synthetic' or a PHOTOS.csv with an area column")
    p.add_argument("--n-images", type=int, default=5000, help="synthetic photos")
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--n-test", type=int, default=300, help="held-out queries (the paper: 300)")
    p.add_argument("--n-textons", type=int, default=512)
    p.add_argument("--alpha", type=float, default=None, help="default: DGAE's")
    p.add_argument("--beta", type=float, default=None, help="default: DGAE's")
    p.add_argument("--fig8-scale", type=float, default=0.25,
                   help="scale of the paper's Fig. 8 layer sizes (0 skips Fig. 8)")
    p.add_argument("--cnn", default="auto", choices=["auto", "off"])
    p.add_argument("--peers", default="all",
                   help="the other methods' rows (cells, Cls retrieval, MvMF, Chance), "
                        "comma-separated, 'all' or 'none'; also on CNN features when present")
    args = p.parse_args(argv)
    from dgae.experiment import describe, evaluate_methods, query_split, standard_methods

    verbose = 0 if args.quiet else 1
    heads = tuple(args.heads.split(","))
    out = Path(args.out)
    images, gps, areas, what = load_data(args, verbose)
    q, g = query_split(len(gps), args.n_test, args.seed)
    tag = "synthetic" if args.data == "synthetic" else Path(args.data).stem
    X, sec = cached(out / "cache" / f"im2gps_{tag}_{len(gps)}_{args.seed}.npy",
                    lambda: describe(images, g, args.n_textons, args.n_jobs, args.seed, verbose)[0])
    print(f"{what}: Im2GPS features {X.shape} ({sec:.0f} s); {len(q)} queries, {len(g)} gallery")
    extra = None
    if args.cnn == "auto" and cnn_available():
        from dgae.features import CNNDescriptor

        cnn = CNNDescriptor(n_jobs=args.n_jobs, verbose=verbose)
        # the model in the cache name: features of another model are never reused
        C, sec = cached(out / "cache" / f"cnn_{cnn.model}_{tag}_{len(gps)}_{args.seed}.npy",
                        lambda: cnn.fit().transform(images))
        extra = {"CNN": (C[g], C[q])}
    base = training_params(args)
    base.update({k: v for k, v in (("alpha", args.alpha), ("beta", args.beta)) if v is not None})
    res = evaluate_methods(standard_methods(**base), X[g], gps[g], X[q], gps[q], heads=heads,
                           areas=areas[g], features=extra, verbose=verbose)
    feature_sets = {"": X} if extra is None else {"": X, "CNN ": C}
    for prefix, F in feature_sets.items():
        for name in peers(args.peers):
            more = evaluate_methods({prefix + name: peer_row(name, args.seed)}, F[g], gps[g], F[q],
                                    gps[q], heads=heads, verbose=verbose)
            for key in res:
                res[key].update(more[key])
    layers = list(res["estimators"]["DGAE"].hidden_layer_sizes)
    report(res, out, f"{what}: Tables 2/3 analogue (DGAE layers {layers})",
           heads, gps[q])
    print("\nTable 5 analogue: DGAE, best of the top-k retrieved GPS (% within)")
    print(topk_table(res["estimators"]["DGAE"], X[q], gps[q]))
    print("\nTable 6 analogue: timings on this machine")
    h = heads[0]
    print(timing_table(X[g], gps[g], areas[g], res["fit_seconds"][f"DGAE {h}"],
                       res["predict_seconds"][f"DGAE {h}"], len(q), base))
    if args.fig8_scale > 0:
        print(f"\nFig. 8 analogue: layer settings (paper sizes x {args.fig8_scale}), {h} head")
        print(fig8(X, gps, areas, q, g, base, args.fig8_scale, out, res["errors"][f"LF {h}"],
                   h, verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
