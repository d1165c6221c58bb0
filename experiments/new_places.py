"""What carries to new places: DGAE settings x heads, on both protocols of a shared set.

For each setting (``--settings``, DGAE keyword sets; default: the POI pairs alone, the
default multi-scale P with region weight 0.25, and region weight 0.5 / 1.0) a ``DGAE`` is
fitted on the gallery of each protocol (``--protocols``; the splits of ``photos.py``) and every
candidate head of ``head="auto"`` -- plus the head it chose -- locates the queries.  Printed
per setting and protocol: the chosen head, and % within the gallery's thresholds and the
median error of each head, so that what the representation learns (same head, other setting)
and what the head does (same setting, other head) can be read apart.  Features come from
``photos.py``'s cache (run it first for the set and protocol).

``--ladder`` adds, per setting and protocol, coarse-to-fine chains of KDE modes (each
stage the mode among the neighbours inside the previous stage's region: ``2500>750>200>25``)
at several vote powers ``m`` (Vo et al.'s ``(1 / d)^m``; 10 is the library's): the power
moves a head between the nearest photo (large ``m``) and wide votes (small ``m``).
``--frontier`` (both protocols) pools the queries of the two protocols and sends those whose
gate value is at most a quantile of the pooled values to the nearest photo, the rest to a
hedging chain: the trade between known places (heading, % within the finest threshold) and
new ones (place, % within the confidence radius and median) any per-query gate on that
feature can reach.

Example::

    python experiments/new_places.py --data ../shared/data/world_streetview \\
        --cache-root experiments_out
    python experiments/new_places.py --data ../shared/data/world_streetview \\
        --settings "" --ladder --frontier
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


def head_rows(model, nbrs, dist, gps_query):
    """``{label: (accuracies, median km)}`` of the chosen head and every candidate, from the
    queries' :func:`neighbours`."""
    from dgae.heads import DEFAULT_K, apply_head
    from dgae.heads import head_candidates
    from dgae.metrics import accuracy_at, geolocation_errors_km

    heads = {f"chosen: {model.head_label_}": (model.head_, model.head_params_)}
    heads.update(head_candidates(model.scales_))
    out = {}
    for label, (head, params) in heads.items():
        k = DEFAULT_K[head]
        pred = apply_head(head, nbrs[:, :k], dist[:, :k],
                          **{"kde_power": model.head_params_["kde_power"], **params})
        out[label] = (accuracy_at(gps_query, pred, model.thresholds_km_),
                      float(np.median(geolocation_errors_km(gps_query, pred))))
    return out


#: Vote powers ``m`` of ``--ladder``.
POWERS = (10.0, 30.0, 100.0)
#: Pooled gate quantiles of ``--frontier`` (0: every query hedged; 1: every query 1-NN).
FRONTIER_QUANTILES = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def chain_head(gps, distances, sigmas_km, power=10.0):
    """Coarse-to-fine KDE modes: at each width (widest first) the density mode among the
    neighbours inside the previous width's region around its mode.

    Examples
    --------
    >>> nbrs = np.array([[[0, 0], [0, 0.01], [0, 3], [0, 3.4], [0, 3.8]]], float)
    >>> chain_head(nbrs, np.ones((1, 5)), (1000.0, 5.0)).tolist()
    [[0.0, 0.0]]
    """
    from dgae.heads import density_mode, vote_log_weights
    from dgae.utils import EARTH_RADIUS_KM, to_unit_vectors

    xyz = to_unit_vectors(gps)
    cos = np.minimum(np.einsum("nkc,njc->nkj", xyz, xyz), 1.0)
    logw, rows = vote_log_weights(distances, power), np.arange(len(gps))
    region = np.ones(logw.shape, bool)
    for sigma in sigmas_km:
        best = density_mode(np.where(region, logw, -np.inf), cos, sigma)
        region &= cos[rows, best] >= np.cos(float(sigma) / EARTH_RADIUS_KM)
    return np.asarray(gps, dtype=np.float64)[rows, best]


def chains(scales):
    """``{label: widths}`` of ``--ladder``: each wider KDE width refined at the finest, and the
    whole ladder of widths."""
    fine, *wider = scales["kde_sigmas_km"]
    out = {f"{w:g}>{fine:g}": (w, fine) for w in wider}
    out[">".join(f"{w:g}" for w in (*wider[::-1], fine))] = (*wider[::-1], fine)
    return out


def neighbours(model, X_query):
    """The queries' nearest gallery locations and distances in the model's retrieval space
    (float64), as many as the hungriest head votes over (Mean-Shift's 120): one search for
    every table."""
    from dgae.heads import DEFAULT_K

    dist, idx = model.knn_.kneighbors(model.retrieval_features(X_query),
                                      n_neighbors=max(DEFAULT_K.values()))
    return model.gallery_gps_[idx], dist.astype(np.float64)


def chain_heads(model, nbrs, dist, power=10.0):
    """``{chain label: predictions}`` of every chain of :func:`chains`, over the KDE head's
    neighbour count."""
    from dgae.heads import DEFAULT_K

    k = DEFAULT_K["kde"]
    return {label: chain_head(nbrs[:, :k], dist[:, :k], widths, power)
            for label, widths in chains(model.scales_).items()}


def ladder_rows(model, nbrs, dist, gps_query, powers=POWERS):
    """``{label: (accuracies, median km)}`` of every chain at every power in ``powers``."""
    from dgae.metrics import accuracy_at, geolocation_errors_km

    out = {f"m={power:g} {label}": pred for power in powers
           for label, pred in chain_heads(model, nbrs, dist, power).items()}
    return {label: (accuracy_at(gps_query, pred, model.thresholds_km_),
                    float(np.median(geolocation_errors_km(gps_query, pred))))
            for label, pred in out.items()}


def print_rows(rows, thresholds):
    """Print ``{label: (accuracies, median km)}`` as a table: % within each threshold, median."""
    print(f"{'head':34s}" + "".join(f"{t:>8g}" for t in thresholds) + "  median km")
    for label, (acc, med) in rows.items():
        print(f"{label:34s}" + "".join(f"{100 * acc[t]:8.1f}" for t in thresholds) + f"{med:11.0f}")


def gate_values(nbrs, dist, km):
    """``{feature: value per query}`` a gate may threshold (small: trust the nearest photo)."""
    from dgae.heads import match_ratio

    return {"match ratio": match_ratio(nbrs, dist, km), "d1/d10": dist[:, 0] / dist[:, 9]}


def frontier(fitted, hedge_from=None):
    """Print, per gate feature and hedging chain, what a pooled-quantile gate gives on the two
    protocols: ``fitted = {protocol: (model, nbrs, dist, gps_query)}`` (heading and place;
    :func:`neighbours`).  ``hedge_from`` (the same form, other codes): the hedging chains --
    and the finest KDE alone -- on its neighbours instead."""
    from dgae.heads import DEFAULT_K
    from dgae.metrics import accuracy_at, geolocation_errors_km

    k = DEFAULT_K["kde"]            # the gates look at the KDE head's neighbours
    hedges = {}
    for protocol, (model, nbrs, dist, _) in (hedge_from or fitted).items():
        hedges[protocol] = chain_heads(model, nbrs, dist)
        if hedge_from:
            fine = model.scales_["kde_sigmas_km"][0]
            hedges[protocol][f"{fine:g}"] = chain_head(nbrs[:, :k], dist[:, :k], (fine,))
    data = {protocol: (nbrs[:, :k], dist[:, :k], gps_query, model.thresholds_km_,
                       model.confidence_km_, hedges[protocol])
            for protocol, (model, nbrs, dist, gps_query) in fitted.items()}
    from sklearn.metrics import roc_auc_score

    gates = {p: gate_values(d[0], d[1], d[4]) for p, d in data.items()}
    right = np.concatenate([geolocation_errors_km(d[2], d[0][:, 0]) <= d[4] for d in data.values()])
    for feature in gates["heading"]:
        pooled = np.concatenate([g[feature] for g in gates.values()])
        print(f"\n{feature}: AUROC {roc_auc_score(right, -pooled):.3f} for 'the nearest photo is "
              "within the confidence radius' on the pooled queries")
        for chain in data["heading"][5]:
            print(f"\ngate: {feature} <= pooled quantile -> 1-NN, else chain {chain} (m=10)")
            print(f"{'quantile':>8}  heading: % @finest (1-NN share)   place: % @radius, median km "
                  "(1-NN share)")
            for q in FRONTIER_QUANTILES:
                cut = np.quantile(pooled, q) if q < 1 else np.inf
                cells = []
                for protocol, (nbrs, dist, truth, th, km, hedges) in data.items():
                    use = gates[protocol][feature] <= cut
                    pred = np.where(use[:, None], nbrs[:, 0], hedges[chain])
                    acc = accuracy_at(truth, pred, th)
                    med = np.median(geolocation_errors_km(truth, pred))
                    cells.append((100 * acc[th[0]], 100 * acc[km], med, use.mean()))
                (h1, _, _, hs), (_, p25, pmed, ps) = cells
                print(f"{q:8.1f}  {h1:22.1f} ({hs:.2f})   {p25:13.1f} {pmed:9.0f} ({ps:.2f})")


#: Weights ``w`` of the coarse part of ``--two-scale``'s joint code: ``d^2 = d_fine^2 + w d_coarse^2``.
JOINT_WEIGHTS = (0.5, 1.0, 2.0)


def joint_neighbours(fine, coarse, X_gallery, X_query, weight):
    """Neighbours (as :func:`neighbours`) in the joint code ``[z_fine, sqrt(weight) z_coarse]``
    of two models fitted on the same gallery, by exact search."""
    from sklearn.neighbors import NearestNeighbors
    from dgae.heads import DEFAULT_K

    def joint(X):
        return np.hstack([fine.transform(X), np.sqrt(weight) * coarse.transform(X)])

    k = min(max(DEFAULT_K.values()), len(X_gallery))
    knn = NearestNeighbors(n_neighbors=k).fit(joint(X_gallery))
    dist, idx = knn.kneighbors(joint(X_query))
    return fine.gallery_gps_[idx], dist.astype(np.float64)


def two_scale(fitted, X, splits, gps, coarse_setting, seed):
    """``--two-scale``: the first setting's model (fine) beside a coarse one (``coarse_setting``)
    fitted on the same gallery; every head on the joint code at each of :data:`JOINT_WEIGHTS`,
    then the gate frontier of the fine codes' nearest photo against the coarse codes' chains.
    ``fitted`` as :func:`frontier`'s; ``splits = {protocol: (query rows, gallery rows)}``."""
    from dgae import DGAE

    coarse_fitted = {}
    for protocol, (model, nbrs, dist, truth) in fitted.items():
        q, g = splits[protocol]
        coarse = DGAE(random_state=seed, **parse_setting(coarse_setting)).fit(X[protocol][g], gps[g])
        cn, cd = neighbours(coarse, X[protocol][q])
        coarse_fitted[protocol] = (coarse, cn, cd, truth)
        th = model.thresholds_km_
        for w in JOINT_WEIGHTS:
            jn, jd = joint_neighbours(model, coarse, X[protocol][g], X[protocol][q], w)
            rows = {label: row for label, row in head_rows(model, jn, jd, truth).items()
                    if not label.startswith("chosen")}   # the fine model's choice, on its codes
            ladder = ladder_rows(model, jn, jd, truth, powers=(10.0,))
            rows.update({label: row for label, row in ladder.items()
                         if label.count(">") > 1})    # the whole ladder (the others: KDE rows)
            print(f"\n{protocol}: joint code [default, sqrt({w:g}) x DGAE({coarse_setting})]")
            print_rows(rows, th)
    print(f"\ngate frontier: the default codes' nearest photo vs DGAE({coarse_setting})'s chains")
    frontier(fitted, hedge_from=coarse_fitted)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder with photos.csv (a shared set)")
    p.add_argument("--cache-root", default="experiments_out",
                   help="photos.py's --out root: features in ROOT/<set>_<protocol>/cache")
    p.add_argument("--protocols", default="heading,place")
    p.add_argument("--settings", nargs="*", default=list(SETTINGS),
                   help="DGAE keyword sets, e.g. 'region_km=None' 'region_weight=0.5'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ladder", action="store_true",
                   help="also coarse-to-fine KDE chains at several vote powers")
    p.add_argument("--frontier", action="store_true",
                   help="also the gate frontier, pooled over the heading and place protocols "
                        "(first setting)")
    p.add_argument("--two-scale", metavar="SETTING", default=None,
                   help="also a coarse model (e.g. 'region_weight=1.0') beside the first "
                        "setting's: heads on their joint code, and the fine nearest photo gated "
                        "against the coarse chains (both protocols)")
    args = p.parse_args(argv)
    from photos import split

    from dgae import DGAE
    from dgae.datasets import load_geotagged

    data_dir = Path(args.data)
    data = load_geotagged(data_dir, data_dir / "photos.csv")
    loc = np.asarray(data.frame["location_id"])
    short = data_dir.name.split("_")[0]
    fitted, features, splits = {}, {}, {}
    for protocol in args.protocols.split(","):
        q, g = splits[protocol] = split(loc, protocol)
        X = features[protocol] = np.load(Path(args.cache_root) / f"{short}_{protocol}" / "cache"
                    / f"{data_dir.name}_{protocol}_im2gps.npy")
        for setting in args.settings:
            t = time.perf_counter()
            model = DGAE(random_state=args.seed, **parse_setting(setting)).fit(X[g], data.gps[g])
            nbrs, dist = neighbours(model, X[q])
            rows = head_rows(model, nbrs, dist, data.gps[q])
            th = model.thresholds_km_
            print(f"\n{data_dir.name}, {protocol} hold-out, DGAE({setting}), seed {args.seed}, "
                  f"fit {time.perf_counter() - t:.0f} s; Im2GPS descriptors")
            if args.ladder:
                rows.update(ladder_rows(model, nbrs, dist, data.gps[q]))
            print_rows(rows, th)
            if setting == args.settings[0]:
                fitted[protocol] = (model, nbrs, dist, data.gps[q])
    pair = {p: fitted[p] for p in ("heading", "place") if p in fitted}
    if args.frontier and len(pair) == 2:
        print(f"\n{data_dir.name}, DGAE({args.settings[0]}), seed {args.seed}: gate frontier")
        frontier(pair)
    if args.two_scale is not None and len(pair) == 2:
        print(f"\n{data_dir.name}, DGAE({args.settings[0]}) and DGAE({args.two_scale}), "
              f"seed {args.seed}: two scales")
        two_scale(pair, features, splits, data.gps, args.two_scale, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
