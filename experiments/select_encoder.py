"""Which EfficientNet-Lite model CNNDescriptor uses by default: chosen on inner gallery splits.

Protocol: for each shared set, the *gallery* of its place protocol (80 % of the places,
``place_holdout_split(seed=0)``) is split again -- 20 % of its places held out (inner place
split, seed 1) and, separately, one heading of each remaining place held out (inner heading
split) -- and DGAE (defaults, seed 0) is fitted on the inner gallery with each model's features.
The score is ``mean_accuracy`` at the gallery's own thresholds (``thresholds_for_gallery``),
averaged over the two inner splits; the outer queries are never looked at.  The features come
from ``experiments/photos.py``'s caches (``--cnn-model``), with their extraction speed.

    python experiments/select_encoder.py --sets croatia,world [--out experiments_out]
"""
import argparse
import sys
from pathlib import Path

import numpy as np

MODELS = ("lite0", "lite1", "lite2")


def cache_path(out, set_name, model):
    name = "cnn" if model == "lite0" else f"cnn_{model}"
    return Path(out) / f"{set_name}_heading" / "cache" / f"{set_name}_streetview_{name}.npy"


def inner_splits(location_id, gallery):
    """{name: (inner query rows, inner gallery rows)} inside the outer gallery rows."""
    from dgae.datasets import heading_holdout_split, place_holdout_split

    loc = location_id[gallery]
    splits = {}
    q, g = place_holdout_split(loc, test_size=0.2, seed=1)
    splits["place"] = (gallery[q], gallery[g])
    q, g = heading_holdout_split(loc, seed=1)
    splits["heading"] = (gallery[q], gallery[g])
    return splits


def main(argv=None):
    from dgae import DGAE
    from dgae.datasets import load_geotagged, place_holdout_split
    from dgae.metrics import mean_accuracy, thresholds_for_gallery

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sets", default="croatia,world")
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--out", default="experiments_out")
    args = p.parse_args(argv)
    print("model  set      inner split  mean acc.  (DGAE defaults, seed 0, gallery thresholds)")
    totals = {m: [] for m in MODELS}
    for set_name in args.sets.split(","):
        root = Path(args.data) / f"{set_name}_streetview"
        data = load_geotagged(root, root / "photos.csv", check_images=False)
        loc = np.asarray(data.frame["location_id"])
        _, gallery = place_holdout_split(loc, test_size=0.2, seed=0)
        for model in MODELS:
            path = cache_path(args.out, set_name, model)
            if not path.exists():
                print(f"{model}  {set_name}: no features at {path} (run photos.py --cnn-model {model})")
                continue
            X = np.load(path)
            for split, (q, g) in inner_splits(loc, gallery).items():
                est = DGAE(random_state=0).fit(X[g], data.gps[g])
                score = mean_accuracy(data.gps[q], est.predict(X[q]),
                                      thresholds_for_gallery(data.gps[g]))
                totals[model].append(score)
                print(f"{model}  {set_name:<8} {split:<12} {score:9.3f}", flush=True)
    means = {m: float(np.mean(v)) for m, v in totals.items() if v}
    for m, v in means.items():
        print(f"{m}: mean over sets and inner splits {v:.3f}")
    if means:
        print(f"best on inner gallery splits: {max(means, key=means.get)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
