"""What a compressed gallery costs: bytes a gallery photo and accuracy, the exact search against
faiss IVF-Flat and IVF-PQ indexes over the same retrieval features.

Protocol: for each shared set and protocol (``photos.py``'s splits and cached Im2GPS features:
run ``experiments/photos.py`` first), a default ``DGAE(random_state=SEED)`` is fitted on the
gallery and ``compact()``-ed; the gallery's retrieval features (the space ``fit`` chose: the
codes, or the codes beside the scaled input -- ``retrieval_space_``) are then indexed again by
each faiss kind (``dgae.graphs.FaissIndex``, the ``faiss`` extra) and searched with the head
``fit`` chose (the same head, parameters and neighbour count). Printed per row: % of queries within the
gallery's thresholds (``dgae.metrics.thresholds_for_gallery``), the median error, and bytes a
gallery photo (the index; "compact model": the whole compacted model pickled, over the gallery).

Example::

    python experiments/compressed_codes.py --sets croatia,world --protocols heading,place
"""
import argparse
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SETS = {"croatia": "croatia_streetview", "world": "world_streetview"}


def kinds():
    from dgae.graphs import FaissIndex

    return {"exact (float32)": None,
            "faiss IVF-Flat": FaissIndex(kind="ivf", random_state=0),
            "faiss IVF-PQ 32 B": FaissIndex(kind="ivfpq", pq_bytes=32, random_state=0),
            "faiss IVF-PQ 16 B": FaissIndex(kind="ivfpq", pq_bytes=16, random_state=0)}


def index_rows(model, X_q, gps_q, thresholds):
    """Print the queries located over the fitted ``model``'s gallery codes as they are and in
    each faiss index of :func:`kinds` (the head ``fit`` chose, in its retrieval space; ``X_q``:
    the queries' input features): % within ``thresholds``, median km, bytes a gallery photo
    and the index's build seconds."""
    import time

    from dgae import GeoKNN
    from dgae.metrics import accuracy_at, geolocation_errors_km

    codes_g, feats_q = model.knn_.features_, model.retrieval_features(X_q)
    print(f"{'index':<24}" + "".join(f"{t:>9g} km" for t in thresholds)
          + f"{'median km':>11}{'bytes/photo':>13}{'build s':>9}")
    for label, index in kinds().items():
        t = time.perf_counter()
        if index is None:
            knn, size = model.knn_, 4.0 * codes_g.shape[1]
        else:
            knn = GeoKNN(index=index).fit(codes_g, model.gallery_gps_)
            knn._set_head(model.head_, model.head_params_, model.n_neighbors_)
            size = knn.index_.bytes_per_photo_
        build = time.perf_counter() - t
        pred = knn.predict(feats_q)
        acc = accuracy_at(gps_q, pred, thresholds)
        med = float(np.median(geolocation_errors_km(gps_q, pred)))
        print(f"{label:<24}" + "".join(f"{100 * a:>12.1f}" for a in acc.values())
              + f"{med:>11.1f}{size:>13.1f}{build:>9.1f}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default="../shared/data")
    p.add_argument("--cache-root", default="experiments_out")
    p.add_argument("--sets", default="croatia,world")
    p.add_argument("--protocols", default="heading,place")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    import joblib

    from dgae import DGAE
    from dgae.datasets import load_geotagged
    from dgae.metrics import thresholds_for_gallery
    from photos import split

    for key in args.sets.split(","):
        name = SETS[key]
        data = load_geotagged(Path(args.data_root) / name, Path(args.data_root) / name / "photos.csv")
        loc = np.asarray(data.frame["location_id"])
        for protocol in args.protocols.split(","):
            q, g = split(loc, protocol)
            X = np.load(Path(args.cache_root) / f"{key}_{protocol}" / "cache" /
                        f"{name}_{protocol}_im2gps.npy")
            model = DGAE(random_state=args.seed).fit(X[g], data.gps[g]).compact()
            buf = io.BytesIO()
            joblib.dump(model, buf)
            codes_g = model.knn_.features_
            thresholds = thresholds_for_gallery(data.gps[g])
            print(f"\n{name}, {protocol} hold-out: {len(q)} queries, {len(g)} gallery photos; "
                  f"DGAE defaults, seed {args.seed}, head {model.head_label_}; retrieval space "
                  f"{model.retrieval_space_}, {codes_g.shape[1]}-d; compact model "
                  f"{buf.tell() / len(g):,.0f} bytes a gallery photo")
            index_rows(model, X[q], data.gps[q], thresholds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
