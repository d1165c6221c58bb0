"""New places inside one city: the synthetic replica restricted to one area a few km across.

``make_city_world`` with a single area (``--radius-km``, default 3 km, centred on Zagreb) and
the *place* protocol: every photo of a random 20 % of the POIs (``default_rng(0)``) is a query,
none of them in the gallery; scattered photos (no POI) stay in the gallery.  Rows: LF (1-NN on
the Im2GPS descriptors), AE (``DGAE(alpha=0, beta=0, input_share=0)``), DGAE and fDGAE
(defaults), "Tiny 1-NN" (16 x 16 RGB thumbnails) and "Gallery mean".  Thresholds suit the gallery
(``dgae.metrics.thresholds_for_gallery``: 0.1 / 0.25 / 0.5 / 1 / 5 km on a city); printed with
the heads DGAE chose, its Q size and floor, and the confidence's AUROC.

Example::

    python experiments/city.py --n-images 2000 --out experiments_out/city
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def city_split(poi, test_size=0.2, seed=0):
    """(query rows, gallery rows): all photos of a random ``test_size`` of the POIs are queries.

    Examples
    --------
    >>> poi = np.array([0, 0, 1, 1, 2, 2, -1, 3, 3, 4])
    >>> q, g = city_split(poi, 0.4)
    >>> len(np.intersect1d(q, g)), len(np.unique(poi[q])), bool(np.all(poi[g] != poi[q][0]))
    (0, 2, True)
    """
    ids = np.unique(poi[poi >= 0])
    held = np.random.default_rng(seed).permutation(ids)[: int(round(test_size * len(ids)))]
    query = np.isin(poi, held)
    return np.flatnonzero(query), np.flatnonzero(~query)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-images", type=int, default=2000)
    p.add_argument("--radius-km", type=float, default=3.0)
    p.add_argument("--image-size", type=int, default=96)
    p.add_argument("--out", default="experiments_out/city")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from _peers import GalleryMeanBaseline
    from photos import confidence_report, tiny_thumbnails

    from dgae import DGAE
    from dgae.experiment import describe, evaluate_methods, head_tables
    from dgae.datasets import make_city_world
    from dgae.metrics import thresholds_for_gallery

    table = Path(tempfile.mkdtemp()) / "city.csv"
    table.write_text(f"area,lat,lon,n_images,radius_km\nZagreb,45.8150,15.9819,1,{args.radius_km}\n")
    t = time.perf_counter()
    data = make_city_world(n_images=args.n_images, image_size=args.image_size, areas=table,
                           random_state=args.seed)
    q, g = city_split(data.poi, seed=args.seed)
    X, sec = describe(data.images, g, n_textons=128, random_state=args.seed)
    tiny = tiny_thumbnails(data.images)
    print(f"{args.n_images} photos within {args.radius_km:g} km, generated and described in "
          f"{time.perf_counter() - t:.0f} s; {len(q)} queries of {len(np.unique(data.poi[q]))} "
          f"held-out POIs, {len(g)} gallery photos", flush=True)
    methods = {"LF": None,
               "AE": DGAE(alpha=0.0, beta=0.0, input_share=0.0, random_state=args.seed),
               "DGAE": DGAE(random_state=args.seed),
               "fDGAE": DGAE(graph="anchor", random_state=args.seed),
               "Gallery mean": GalleryMeanBaseline()}
    heads = ("auto", "1nn")
    result = evaluate_methods(methods, X[g], data.gps[g], X[q], data.gps[q], heads=heads,
                              features={"Tiny 1-NN": (tiny[g], tiny[q])})
    thresholds = thresholds_for_gallery(data.gps[g])
    print(f"\none city, place hold-out; thresholds {', '.join(f'{v:g}' for v in thresholds)} km "
          f"(auto)\n{head_tables(result, heads, thresholds)}")
    for name in ("AE", "DGAE", "fDGAE"):
        est = result["estimators"][name]
        print(f"{name}: q_min_km_ {est.q_min_km_:g}, Q pairs {est.Q_.nnz}, region_km_ "
              f"{est.region_km_}, POI bandwidth {est.poi_bandwidth_km_:.2g} km")
        print(confidence_report(name, est, X[q], data.gps[q]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
