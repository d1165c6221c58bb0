"""What carries to new places: DGAE settings x heads, on both protocols of a shared set.

For each setting (``--settings``, DGAE keyword sets; default: the POI pairs alone, the
default multi-scale P with region weight 0.25, and region weight 0.5 / 1.0) a ``DGAE`` is
fitted on the gallery of each protocol (``--protocols``; the splits of ``photos.py``) and every
candidate head of ``head="auto"`` -- plus the head it chose -- locates the queries.  Printed
per setting and protocol: the chosen head, and % within the gallery's thresholds and the
median error of each head, so that what the representation learns (same head, other setting)
and what the head does (same setting, other head) can be read apart.  Features come from
``photos.py``'s cache (run it first for the set and protocol).

Example::

    python experiments/new_places.py --data ../shared/data/world_streetview \\
        --cache-root experiments_out
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Default settings: the paper's P (POI pairs alone) and multi-scale P at three region weights.
SETTINGS = ("region_km=None", "region_weight=0.25", "region_weight=0.5", "region_weight=1.0")


def parse_setting(text):
    """``"a=1, b=None"`` -> ``{"a": 1, "b": None}`` (Python literals).

    Examples
    --------
    >>> parse_setting("region_km=None, region_weight=0.5")
    {'region_km': None, 'region_weight': 0.5}
    >>> parse_setting("")
    {}
    """
    import ast

    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, value = part.split("=", 1)
        out[key.strip()] = ast.literal_eval(value.strip())
    return out


def head_rows(model, X_query, gps_query):
    """``{label: (accuracies, median km)}`` of the chosen head and every candidate."""
    from dgae._heads import DEFAULT_K, apply_head
    from dgae._selection import head_candidates
    from dgae.metrics import accuracy_at, geolocation_errors_km

    dist, idx = model.knn_.kneighbors(model.transform(X_query), n_neighbors=max(DEFAULT_K.values()))
    nbrs, dist = model.gallery_gps_[idx], dist.astype(np.float64)
    heads = {f"chosen: {model.head_label_}": (model.head_, model.head_params_)}
    heads.update(head_candidates(model.scales_))
    out = {}
    for label, (head, params) in heads.items():
        k = DEFAULT_K[head]
        pred = apply_head(head, nbrs[:, :k], dist[:, :k], **{"kde_power": model.kde_power, **params})
        out[label] = (accuracy_at(gps_query, pred, model.thresholds_km_),
                      float(np.median(geolocation_errors_km(gps_query, pred))))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder with photos.csv (a shared set)")
    p.add_argument("--cache-root", default="experiments_out",
                   help="photos.py's --out root: features in ROOT/<set>_<protocol>/cache")
    p.add_argument("--protocols", default="heading,place")
    p.add_argument("--settings", nargs="*", default=list(SETTINGS),
                   help="DGAE keyword sets, e.g. 'region_km=None' 'region_weight=0.5'")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from photos import split

    from dgae import DGAE
    from dgae.datasets import load_geotagged

    data_dir = Path(args.data)
    data = load_geotagged(data_dir, data_dir / "photos.csv")
    loc = np.asarray(data.frame["location_id"])
    short = data_dir.name.split("_")[0]
    for protocol in args.protocols.split(","):
        q, g = split(loc, protocol)
        X = np.load(Path(args.cache_root) / f"{short}_{protocol}" / "cache"
                    / f"{data_dir.name}_{protocol}_im2gps.npy")
        for setting in args.settings:
            t = time.perf_counter()
            model = DGAE(random_state=args.seed, **parse_setting(setting)).fit(X[g], data.gps[g])
            rows = head_rows(model, X[q], data.gps[q])
            th = model.thresholds_km_
            print(f"\n{data_dir.name}, {protocol} hold-out, DGAE({setting}), seed {args.seed}, "
                  f"fit {time.perf_counter() - t:.0f} s; Im2GPS descriptors")
            print(f"{'head':34s}" + "".join(f"{t:>8g}" for t in th) + "  median km")
            for label, (acc, med) in rows.items():
                print(f"{label:34s}" + "".join(f"{100 * acc[t]:8.1f}" for t in th) + f"{med:11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
