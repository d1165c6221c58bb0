"""How ``head="auto"`` picks among heads the held-out photos cannot tell apart: rules compared.

On one protocol's gallery of a shared set (``photos.py``'s splits and feature cache),
``DGAE()`` is fitted with the defaults; its held-out photos (views of trained places, whole
places, whole regions, a third of the weight each) are located among its training photos in
the retrieval space it chose, by every candidate head with and without each gate.  Each rule
below picks a head and gate from those held-out scores alone, and the protocol's queries are
then located by what it picked (% within the gallery's thresholds, median km):

- ``best``: the best-scoring head, then its best-scoring gate (the rule before the
  one-standard-error rule);
- ``1-SE`` (the library's, :func:`dgae.heads.one_se_choice`): of the heads within one paired
  standard error of the best score, the smallest weighted median error, then its best gate;
- ``1-SE, gate spares new ground``: as ``1-SE``, but a gate is kept only if it does not
  locate the held-out places and regions worse than the ungated head by more than one paired
  standard error;
- ``joint best`` / ``joint 1-SE``: the two rules over every head and gate at once.

The fitted model's own choice is printed beside them: it is the ``1-SE`` row's.

Example::

    python experiments/head_rules.py --data ../shared/data/world_streetview --protocol place \\
        --features im2gps,fused --out experiments_out/world_place
"""
import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photos import features, split  # noqa: E402


def held_out(model):
    """The held-out rows of a fitted ``DGAE`` and their kinds (0 view, 1 place, 2 region)."""
    parts = (model.view_indices_, model.validation_indices_, model.region_indices_)
    rows = np.concatenate(parts).astype(np.int64)
    return rows, np.repeat([0, 1, 2], [len(p) for p in parts])


def mix(kind):
    """Weights that give each kind present a third (an absent kind's share to the others)."""
    counts = np.bincount(kind, minlength=3).astype(np.float64)
    share = np.where(counts > 0, 1.0, 0.0) / np.count_nonzero(counts)
    return share[kind] / counts[kind]


def head_kw(model):
    """The fitted head's vote settings (power, least votes), which every head here shares."""
    return {k: model.head_params_[k] for k in ("kde_power", "min_votes") if k in model.head_params_}


def errors_by_option(model, nbrs, dist, truth, gates):
    """``{label: (head, params, errors km)}`` of every candidate head, ungated and gated."""
    from dgae.heads import DEFAULT_K, apply_head, head_candidates
    from dgae.metrics import geolocation_errors_km

    kw = head_kw(model)
    out = {}
    for label, (head, params) in head_candidates(model.scales_).items():
        k = min(DEFAULT_K[head], nbrs.shape[1])
        options = [(label, params)]
        if head != "1nn":
            options += [(f"{label}|{'fine' if gh == 'kde' else '1nn'}<{g:.4g}",
                         {**params, "match_gate": float(g), "gate_km": model.confidence_km_,
                          "gate_head": gh}) for g in gates for gh in ("kde", "1nn")]
        for name, p in options:
            pred = apply_head(head, nbrs[:, :k], dist[:, :k], **{**kw, **p})
            out[name] = (head, p, geolocation_errors_km(truth, pred))
    return out


def rules(options, kind, w, thresholds):
    """``{rule: label}`` of each rule of the module docstring."""
    from dgae.heads import one_se_choice, paired_gap
    from dgae.metrics import hit_rates

    score = {lb: float(w @ hit_rates(e, thresholds)) for lb, (_, _, e) in options.items()}
    errors = {lb: e for lb, (_, _, e) in options.items()}
    heads = {lb: s for lb, s in score.items() if "|" not in lb}

    def gate(label, spare=False):
        mine = [lb for lb in score if lb.split("|")[0] == label]
        new = kind > 0
        if spare and new.any():
            mine = [lb for lb in mine if lb == label
                    or sum(paired_gap(hit_rates(errors[lb][new], thresholds),
                                      hit_rates(errors[label][new], thresholds), w[new])) >= 0]
        return max(mine, key=score.get)

    one_se = one_se_choice(heads, errors, thresholds, w)
    return score, {"best": gate(max(heads, key=heads.get)),
                   "1-SE": gate(one_se),
                   "1-SE, gate spares new ground": gate(one_se, spare=True),
                   "joint best": max(score, key=score.get),
                   "joint 1-SE": one_se_choice(score, errors, thresholds, w)}


def main(argv=None):
    from sklearn.neighbors import NearestNeighbors

    from dgae import DGAE
    from dgae.datasets import load_geotagged
    from dgae.heads import DEFAULT_K, apply_head, match_gates
    from dgae.metrics import geolocation_errors_km

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True,
                   help="folder with photos.csv (path,lat,lon,location_id)")
    p.add_argument("--protocol", default="place", choices=["heading", "place", "region"])
    p.add_argument("--features", default="im2gps", help="comma-separated: im2gps, cnn, fused")
    p.add_argument("--out", default="experiments_out/head_rules", help="feature cache folder")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    data_dir = Path(args.data)
    data = load_geotagged(data_dir, data_dir / "photos.csv")
    q, g = split(np.asarray(data.frame["location_id"]), args.protocol, data.gps)
    sets = args.features.split(",")
    opts = SimpleNamespace(n_textons=512, n_jobs=None, seed=args.seed, quiet=True,
                           cnn_model="lite0", data=str(data_dir))
    feats = features([str(x) for x in data.paths], g, sets, Path(args.out),
                     f"{data_dir.name}_{args.protocol}", opts)
    for name in [s for s in sets if s in feats]:
        X = feats[name]
        model = DGAE(random_state=args.seed).fit(X[g], data.gps[g])
        space = model.knn_.features_                     # the gallery in the chosen space
        train, (rows, kind) = model.training_indices_, held_out(model)
        k = min(max(DEFAULT_K.values()), len(train))
        dist, idx = NearestNeighbors(n_neighbors=k).fit(space[train]).kneighbors(space[rows])
        nbrs, th = model.gallery_gps_[train][idx], model.thresholds_km_
        options = errors_by_option(model, nbrs, dist, model.gallery_gps_[rows],
                                   match_gates(nbrs, dist, model.confidence_km_))
        score, picked = rules(options, kind, mix(kind), th)
        qd, qi = NearestNeighbors(n_neighbors=k).fit(space).kneighbors(
            model.retrieval_features(X[q]))
        print(f"\n{data_dir.name}, {args.protocol} hold-out, {name}, seed {args.seed}: "
              f"{len(q)} queries; held out {np.bincount(kind, minlength=3).tolist()} "
              f"(views, places, regions); space {model.retrieval_space_}; the fit chose "
              f"{model.head_label_}")
        print(f"{'rule':<30} {'head and gate':<28} {'held-out':>9} "
              + "".join(f"{t:>8g}km" for t in th) + "  median km")
        for rule, label in picked.items():
            head, params, _ = options[label]
            kh = min(DEFAULT_K[head], k)
            pred = apply_head(head, model.gallery_gps_[qi[:, :kh]], qd[:, :kh],
                              **{**head_kw(model), **params})
            e = geolocation_errors_km(data.gps[q], pred)
            print(f"{rule:<30} {label:<28} {score[label]:9.4f} "
                  + "".join(f"{100 * np.mean(e <= t):10.1f}" for t in th)
                  + f"  {np.median(e):9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
