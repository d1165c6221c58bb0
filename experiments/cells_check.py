"""The published PlaNet-style S2 partitions of MP-16 against ``dgae.cells.S2Cells``.

For each ``../shared/data/gps/cells_50_{T}.csv`` (4.72 M MP-16 photos, t_min 50,
t_max T): the share of cells whose mean coordinate lies in the cell its token
names; the correlation between the published per-cell counts and the counts of
``mp16_coordinates_100k.csv`` (a random 100k of the same photos) assigned to
those cells; and the number of cells ``S2Cells`` makes from the 100k with both
thresholds scaled by 100k / 4.72 M (t_min at least 1), against the published
count.  Then the mesh paper's three presets (Table 1), thresholds scaled by
100k over the photos each mesh was made from (2 M / 14 M YFCC photos — another
collection, so the paper's cell counts are for orientation only).

Example::

    python experiments/cells_check.py
"""
import sys
import time

import numpy as np

MP16_PHOTOS = 4723695


def main(argv=None):
    from dgae.cells import S2Cells
    from dgae.datasets import load_shared, shared_data_dir

    base = shared_data_dir()
    if base is None:
        raise SystemExit("needs ../shared/data (or $DGAE_SHARED_DATA)")
    sample = load_shared("gps/mp16_coordinates_100k").gps
    scale = len(sample) / MP16_PHOTOS
    print(f"{'t_max':>6} {'cells':>7} {'centroid in own cell':>21} {'100k assigned':>14} "
          f"{'count corr.':>12} {'refit t_max/t_min':>18} {'refit cells':>12} {'diff':>7} {'fit s':>6}")
    for t_max in (1000, 2000, 5000):
        pub = S2Cells.from_table(base / "gps" / f"cells_50_{t_max}.csv")
        own = np.mean(pub.predict(pub.imagery_centroids_) == np.arange(pub.n_cells_))
        labels = pub.predict(sample)
        counts = np.bincount(labels[labels >= 0], minlength=pub.n_cells_)
        corr = np.corrcoef(counts, pub.counts_)[0, 1]
        hi, lo = round(t_max * scale), max(1, round(50 * scale))
        t = time.perf_counter()
        ours = S2Cells(max_per_cell=hi, min_per_cell=lo).fit(sample)
        sec = time.perf_counter() - t
        print(f"{t_max:>6} {pub.n_cells_:>7} {100 * own:>20.1f}% {100 * np.mean(labels >= 0):>13.1f}% "
              f"{corr:>12.3f} {f'{hi}/{lo}':>18} {ours.n_cells_:>12} "
              f"{100 * (ours.n_cells_ / pub.n_cells_ - 1):>+6.1f}% {sec:>6.1f}")
    from dgae.cells import DelaunayMesh

    paper_cells = {"coarse": 538, "fine": 6565, "fineP": 4771}
    print(f"\n{'mesh':>7} {'paper limit/min':>16} {'scaled':>9} {'cells':>7} {'paper cells':>12} "
          f"{'photos kept':>12} {'fit s':>6}")
    for name, (limit, minimum, _) in DelaunayMesh.PRESETS.items():
        mesh = DelaunayMesh.preset(name, n_photos=len(sample))
        t = time.perf_counter()
        mesh.fit(sample)
        sec = time.perf_counter() - t
        kept = np.mean(mesh.predict(sample) >= 0)
        print(f"{name:>7} {f'{limit}/{minimum}':>16} "
              f"{f'{mesh.refinement_limit}/{mesh.min_examples}':>9} {mesh.n_cells_:>7} "
              f"{paper_cells[name]:>12} {100 * kept:>11.1f}% {sec:>6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
