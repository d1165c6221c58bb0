"""Cross-validation of DGAE's alpha / beta (the paper's Fig. 7) and k1 / k2 (Table 4).

``GridSearchCV`` over a DGAE with folds grouped by POI (so a fold's photos
come from POIs unseen in training), scored by the fraction of photos within
200 km (``dgae.metrics.geo_scorer(200)``, the paper's cross-validation
metric).  Prints the alpha x beta table and the k1 / k2 rows, and writes the
heat-map PNG.  The paper's grid is 0 to 1 in steps of 0.05 (``--full-grid``,
441 fits per fold); the default grid is the values the paper discusses.

Example::

    python experiments/cross_validate.py --n-images 3000 --n-jobs 2 --out experiments_out/cv
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, cached, training_params  # noqa: E402
from cities35 import load_data  # noqa: E402


def poi_groups(gps, areas, bandwidth_km=None):
    """POI label of every photo (mean-shift per area; default: the paper's bandwidth): the
    CV groups."""
    from dgae.graphs import POIMiner

    return POIMiner(bandwidth_km=bandwidth_km).fit(gps, areas=areas).labels_


def grid_search(X, gps, groups, base, grid, n_folds, n_jobs, verbose):
    from sklearn.model_selection import GridSearchCV, GroupKFold

    from dgae import DGAE
    from dgae.metrics import geo_scorer

    search = GridSearchCV(DGAE(**base), grid, scoring=geo_scorer(200), n_jobs=n_jobs,
                          cv=GroupKFold(n_splits=n_folds), error_score="raise", verbose=verbose)
    search.fit(X, gps, groups=groups)
    return search.cv_results_


def alpha_beta_table(res, alphas, betas):
    """Mean CV score (%) as an (n_alpha, n_beta) array and its printed table."""
    score = np.full((len(alphas), len(betas)), np.nan)
    for p, m in zip(res["params"], res["mean_test_score"]):
        score[alphas.index(p["alpha"]), betas.index(p["beta"])] = 100 * m
    head = "alpha\\beta " + " ".join(f"{b:>6g}" for b in betas)
    rows = [f"{a:>10g} " + " ".join(f"{s:6.1f}" for s in row) for a, row in zip(alphas, score)]
    return score, "\n".join([head] + rows)


def k_table(res, ks):
    """Table 4 analogue: rows k1 (k2 = 10) and k2 (k1 = 20), % within 200 km."""
    cells = {}
    for p, m in zip(res["params"], res["mean_test_score"]):
        # k = 0 (no pairs) runs as alpha = 0 / beta = 0: DGAE needs k >= 1
        k1 = 0 if p.get("alpha") == 0 else p["k1"]
        k2 = 0 if p.get("beta") == 0 else p["k2"]
        cells[(k1, k2)] = 100 * m
    lines = ["      " + " ".join(f"{k:>6d}" for k in ks)]
    lines.append("k1    " + " ".join(f"{cells.get((k, 10), np.nan):6.1f}" for k in ks))
    lines.append("k2    " + " ".join(f"{cells.get((20, k), np.nan):6.1f}" for k in ks))
    return "\n".join(lines)


def k_grid(ks):
    """Table 4's two rows as a GridSearchCV grid (k = 0 expressed as alpha / beta = 0).

    Examples
    --------
    >>> k_grid([0, 5])[1]
    {'k1': [1], 'k2': [10], 'alpha': [0.0]}
    """
    pos = [k for k in ks if k > 0]
    grid = [{"k1": pos, "k2": [10]}, {"k1": [20], "k2": pos}]
    if 0 in ks:
        grid[1:1] = [{"k1": [1], "k2": [10], "alpha": [0.0]}]
        grid.append({"k1": [20], "k2": [1], "beta": [0.0]})
    return grid


def heat_map(score, alphas, betas, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(score, origin="lower", cmap="viridis")
    ax.set_xticks(range(len(betas)), [f"{b:g}" for b in betas])
    ax.set_yticks(range(len(alphas)), [f"{a:g}" for a in alphas])
    ax.set_xlabel("beta")
    ax.set_ylabel("alpha")
    fig.colorbar(im, label="% within 200 km (CV)")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def main(argv=None):
    p = base_parser(__doc__.split("\n\n")[0], "experiments_out/cross_validate")
    p.add_argument("--data", default="synthetic", help="'synthetic' or a PHOTOS.csv with an area column")
    p.add_argument("--n-images", type=int, default=2000)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--n-textons", type=int, default=512)
    p.add_argument("--grid", default="0,0.05,0.1,0.2,0.5,1", help="alpha and beta values")
    p.add_argument("--full-grid", action="store_true", help="the paper's 0:0.05:1 grid")
    p.add_argument("--ks", default="0,5,10,15,20,25,30", help="k1 / k2 values (Table 4)")
    p.add_argument("--n-folds", type=int, default=3)
    p.add_argument("--skip-k", action="store_true", help="only the alpha x beta grid")
    args = p.parse_args(argv)
    from dgae.experiment import describe

    verbose = 0 if args.quiet else 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images, gps, areas, what = load_data(args, verbose)
    tag = "synthetic" if args.data == "synthetic" else Path(args.data).stem
    everything = np.arange(len(gps))
    X, _ = cached(out / "cache" / f"im2gps_{tag}_{len(gps)}_{args.seed}.npy",
                  lambda: describe(images, everything, args.n_textons, args.n_jobs, args.seed,
                                   verbose)[0])
    groups = poi_groups(gps, areas)
    print(f"{what}: {X.shape[0]} photos, {len(np.unique(groups))} POIs, "
          f"{args.n_folds} folds grouped by POI")
    base = training_params(args)
    values = ([round(0.05 * i, 2) for i in range(21)] if args.full_grid
              else [float(v) for v in args.grid.split(",")])
    t = time.perf_counter()
    res = grid_search(X, gps, groups, {**base, "k1": 20, "k2": 10},
                      {"alpha": values, "beta": values}, args.n_folds, args.n_jobs, verbose)
    score, table = alpha_beta_table(res, values, values)
    print(f"\nFig. 7 analogue: % within 200 km (CV), k1=20, k2=10 ({time.perf_counter() - t:.0f} s)")
    print(table)
    print(f"wrote {heat_map(score, values, values, out / 'fig7_alpha_beta.png')}")
    (out / "fig7_table.txt").write_text(table + "\n")
    if not args.skip_k:
        ks = [int(k) for k in args.ks.split(",")]
        t = time.perf_counter()
        grid = k_grid(ks)
        res = grid_search(X, gps, groups, {**base, "alpha": 0.2, "beta": 0.1}, grid,
                          args.n_folds, args.n_jobs, verbose)
        table = k_table(res, ks)
        print(f"\nTable 4 analogue: % within 200 km (CV), alpha=0.2, beta=0.1 "
              f"({time.perf_counter() - t:.0f} s)")
        print(table)
        (out / "table4_k.txt").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
