"""Every method on a real photo collection, one table: LF, AE, DGAE, fDGAE and their peers.

``--data DIR`` is a folder with ``photos.csv`` (``path,lat,lon,location_id``;
paths relative to DIR), e.g. ``../shared/data/croatia_streetview`` or
``../shared/data/world_streetview``.  Protocols (the shared data README's):

* ``heading`` — ``rng = numpy.random.default_rng(0)``; for each ``location_id``
  in sorted order ``rng.choice`` of that place's rows is a query, the rest is
  the gallery (the query's place is in the gallery, seen from elsewhere);
* ``place`` — ``default_rng(0).permutation`` of the sorted unique
  ``location_id``s, the first 20 % are held out whole (never in the gallery);
* ``region`` — whole regions held out: places linked by chains of photos at most
  ``--region-km`` apart form a region (``auto``: twice the set's fine scale,
  :func:`dgae.metrics.gallery_scales` -- 50 km for world_streetview, where such a
  region is a city, 2 km for croatia_streetview); ``default_rng(0).permutation`` of
  the regions, held out until 20 % of the places are
  (:func:`dgae.datasets.region_holdout_split`).  No query has a gallery photo
  within ``--region-km``.

Rows, on every feature set available (``--features``):

* ``im2gps`` — the Im2GPS descriptors, textons and block scales fitted on the
  gallery only: LF (1-NN on the descriptors), AE (``DGAE(alpha=0, beta=0, input_share=0)``: the
  paper's baseline, retrieval on the autoencoder's code),
  DGAE (``DGAE()`` defaults), "DGAE new" / "DGAE seen" (told the query mix:
  ``new_place_share=1.0`` / ``0.0``), fDGAE (``graph="anchor"``), PCA+LDA and PCA+NCA
  (:mod:`_peers`: PCA(256, whiten), then scikit-learn's LDA / NCA on
  ``POIMiner`` labels; NCA on a subsample of at most ``--nca-max`` photos), and
  "DGAE paper" (``DGAE(**PAPER_PARAMS)``: Eq. 4, Algorithm 1, layers
  (2000, 1000, 500); slow); LF Mean-Shift and LF KDE (``GeoKNN`` heads on the
  descriptors); cell classification (``CellClassifier``) over S2, lat-lon and
  Delaunay cells of the one stated size rule (``default_partition``: about 25
  photos per cell), predicting imagery centroids or cell centres;
  classification-trained retrieval (``ClassificationRetrieval``: KDE head on
  the classifier's representation; "top-5": restricted to the 5 likeliest
  cells); ``MvMFRegressor``; Chance (a random gallery photo's location);
* ``cnn`` — EfficientNet-Lite0 features (the ``cnn`` extra): LF (= CNN 1-NN),
  LF KDE, DGAE, DGAE new / seen, PCA+LDA, S2 cells, Cls retrieval, MvMF;
* ``fused`` — both concatenated, each block scaled to unit total variance on
  the gallery (equal weight): LF, DGAE, DGAE new / seen, PCA+LDA.

Every DGAE row runs with the library's defaults and ``random_state=--seed``;
nothing is tuned on the query photos.  Also printed: the geo-constraint
ablation (the gallery's P- and Q-pair / random-pair code-distance ratios of
DGAE at the default alpha and beta, at alpha = 0 and at beta = 0) and the
fit seconds of each row.  Features are cached under ``OUT/cache``.

Example::

    python experiments/photos.py --data ../shared/data/croatia_streetview --protocol heading \\
        --out experiments_out/croatia_heading
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cached, cnn_available, report  # noqa: E402
from _peers import PEER_ROWS, LinearPeer, peer_row  # noqa: E402

FEATURE_SETS = ("im2gps", "cnn", "fused", "tiny")
#: Rows run on each feature set (names as printed, prefixed by the set but for im2gps).
ROWS = {
    "im2gps": ("LF", "LF Mean-Shift", "LF KDE", "LF auto", "AE", "DGAE", "DGAE new", "DGAE seen",
               "fDGAE", "PCA+LDA", "PCA+NCA",
               "DGAE paper", "S2 cells", "S2 cells (centre)", "Lat-lon cells",
               "Lat-lon cells (centre)", "Delaunay cells", "Delaunay cells (centre)",
               "Cls retrieval", "Cls retrieval top-5", "MvMF", "Chance", "Gallery mean"),
    "cnn": ("LF", "LF KDE", "LF auto", "DGAE", "DGAE new", "DGAE seen", "PCA+LDA", "S2 cells",
            "Cls retrieval", "MvMF"),
    "fused": ("LF", "LF auto", "DGAE", "DGAE new", "DGAE seen", "PCA+LDA"),
    "tiny": ("1-NN",),
}
#: A tiny thumbnail's side (the "tiny 1-NN" baseline: 16 x 16 RGB pixels, Euclidean 1-NN).
TINY_SIDE = 16


def make_row(name, seed, nca_max):
    """The estimator of a row (None: retrieval on the features themselves)."""
    from dgae import DGAE, PAPER_PARAMS

    if name in PEER_ROWS:
        return peer_row(name, seed)
    return {
        "LF": lambda: None,
        "1-NN": lambda: None,
        "DGAE paper": lambda: DGAE(**PAPER_PARAMS, random_state=seed),
        "AE": lambda: DGAE(alpha=0.0, beta=0.0, input_share=0.0, random_state=seed),
        "DGAE": lambda: DGAE(random_state=seed),
        "DGAE new": lambda: DGAE(new_place_share=1.0, random_state=seed),
        "DGAE seen": lambda: DGAE(new_place_share=0.0, random_state=seed),
        "fDGAE": lambda: DGAE(graph="anchor", random_state=seed),
        "PCA+LDA": lambda: LinearPeer("lda", random_state=seed),
        "PCA+NCA": lambda: LinearPeer("nca", max_samples=nca_max, random_state=seed),
    }[name]()


def split(location_id, protocol, gps=None, region_km="auto"):
    """(query rows, gallery rows) of the protocol (see the module docstring)."""
    from dgae.datasets import heading_holdout_split, place_holdout_split, region_holdout_split
    from dgae.metrics import gallery_scales

    if protocol == "heading":
        return heading_holdout_split(location_id, seed=0)
    if protocol == "region":
        link = (2 * gallery_scales(gps)["confidence_km"] if region_km == "auto"
                else float(region_km))
        return region_holdout_split(gps, location_id, link_km=link, test_size=0.2, seed=0)
    return place_holdout_split(location_id, test_size=0.2, seed=0)


def equal_weight(blocks, gallery):
    """Concatenate feature blocks, each an equal share of the expected squared distance between
    two gallery photos: the rule of :class:`dgae.features.FusedDescriptor` (``block_scales``),
    applied to cached features with the scales measured on the gallery rows only.

    Examples
    --------
    >>> a, b = np.arange(8.0).reshape(4, 2), 100 * np.arange(4.0)[:, None]
    >>> F = equal_weight([a, b], np.arange(4))
    >>> [round(2 * float(F[:, s].var(axis=0, ddof=1).sum()), 6) for s in (slice(0, 2), slice(2, 3))]
    [1.0, 1.0]
    """
    from dgae.features import block_scales

    X = np.hstack(blocks).astype(np.float32)
    ends = np.cumsum([B.shape[1] for B in blocks])
    slices = {i: slice(int(e - B.shape[1]), int(e)) for i, (B, e) in enumerate(zip(blocks, ends))}
    scales = block_scales(X[gallery], slices)
    for i, s in slices.items():
        X[:, s] *= np.float32(scales[i])
    return X


def features(paths, g, sets, out, tag, args):
    """``{set: X}`` for the requested feature sets (cached), skipping what cannot run."""
    from dgae.features import Im2GPSDescriptor

    verbose = 0 if args.quiet else 1

    def im2gps():
        d = Im2GPSDescriptor(n_textons=args.n_textons, n_jobs=args.n_jobs, random_state=args.seed,
                             verbose=verbose)
        d.fit([paths[i] for i in g])  # textons and block scales from the gallery only
        return d.transform(paths)

    X, sec = cached(out / "cache" / f"{tag}_im2gps.npy", im2gps)
    print(f"Im2GPS descriptors {X.shape} ({sec:.0f} s)", flush=True)
    feats = {"im2gps": X}
    if "tiny" in sets:
        feats["tiny"], sec = cached(out / "cache" / f"{Path(args.data).name}_tiny.npy",
                                    lambda: tiny_thumbnails(paths))
    if not ({"cnn", "fused"} & set(sets)):
        return {k: v for k, v in feats.items() if k in sets}
    if not cnn_available(args.cnn_model):
        print("cnn and fused rows skipped: the 'cnn' extra (torch) is not installed")
        return feats
    from dgae.features import CNNDescriptor

    name = "cnn" if args.cnn_model == "lite0" else f"cnn_{args.cnn_model}"  # lite0: the old cache
    C, sec = cached(out / "cache" / f"{Path(args.data).name}_{name}.npy", lambda: CNNDescriptor(
        model=args.cnn_model, n_jobs=args.n_jobs, verbose=verbose).fit().transform(paths))
    print(f"CNN features (EfficientNet-{args.cnn_model}) {C.shape} ({sec:.0f} s"
          + (f", {len(paths) / sec:.1f} photos/s" if sec > 1 else ", cached") + ")", flush=True)
    feats["cnn"] = C
    feats["fused"] = equal_weight([X, C], g)
    return {k: v for k, v in feats.items() if k in sets}


def tiny_thumbnails(images, side=TINY_SIDE):
    """16 x 16 RGB thumbnails (area resampling), flattened, in [0, 1]: the simplest descriptor.

    ``images``: paths, or H x W x 3 uint8 arrays.

    Examples
    --------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "red.png")
    >>> Image.new("RGB", (40, 30), (255, 0, 0)).save(path)
    >>> tiny_thumbnails([path]).reshape(16, 16, 3)[0, 0].tolist()
    [1.0, 0.0, 0.0]
    >>> float(tiny_thumbnails(np.zeros((1, 32, 32, 3), np.uint8)).max())
    0.0
    """
    from PIL import Image

    out = np.empty((len(images), side * side * 3), np.float32)
    for i, img in enumerate(images):
        with (Image.fromarray(img) if isinstance(img, np.ndarray) else Image.open(img)) as im:
            out[i] = np.asarray(im.convert("RGB").resize((side, side), Image.BOX)).ravel() / 255.0
    return out


#: Printed prefix of the rows of each feature set.
ROW_PREFIX = {"im2gps": "", "cnn": "CNN ", "fused": "fused ", "tiny": "Tiny "}


def row_name(feature_set, row):
    """The printed name of a row on a feature set.

    Examples
    --------
    >>> row_name("im2gps", "DGAE"), row_name("cnn", "DGAE"), row_name("tiny", "1-NN")
    ('DGAE', 'CNN DGAE', 'Tiny 1-NN')
    """
    return ROW_PREFIX[feature_set] + row


def confidence_report(name, est, X_query, gps_query, n_bins=5):
    """AUROC of a DGAE row's ``confidence`` and ``confidence_seen`` for "within its radius",
    and the reliability table of each.

    Returns
    -------
    text : str
    """
    from dgae.metrics import geolocation_errors_km

    d = est.predict_details(X_query)
    ok = geolocation_errors_km(gps_query, d.gps) <= d.confidence_km
    space = getattr(est, "retrieval_space_", None)
    lines = [f"{name}: head {est.head_label_}" + (f", retrieval {space}" if space else "")
             + f"; P(error <= {d.confidence_km:g} km), {ok.sum()} of {ok.size} queries within"]
    for column in ("confidence", "confidence_seen"):
        lines += reliability_lines(column, d[column], ok, n_bins)
    return "\n".join(lines)


def reliability_lines(column, confidence, ok, n_bins):
    """One confidence column's AUROC, mean against the observed rate, ECE and binned table."""
    from sklearn.metrics import roc_auc_score

    from dgae.metrics import reliability

    if not np.isfinite(confidence).all():
        return [f"  {column}: unknown (NaN)"]
    auc = roc_auc_score(ok, confidence) if 0 < ok.mean() < 1 else float("nan")
    t = reliability(confidence, ok, n_bins)
    ece = float(np.sum(t["count"] * np.abs(np.nan_to_num(t["predicted"] - t["observed"])))
                / max(ok.size, 1))
    lines = [f"  {column}: AUROC {auc:.3f}; mean {confidence.mean():.3f} vs observed "
             f"{ok.mean():.3f}; ECE ({n_bins} bins) {ece:.3f}",
             "    predicted   n   mean predicted   observed"]
    for lo, hi, n, pred, obs in zip(t["lower"], t["upper"], t["count"], t["predicted"], t["observed"]):
        if n:
            lines.append(f"    {lo:.1f}-{hi:.1f} {n:5d} {pred:16.3f} {obs:10.3f}")
    return lines


def ablation(X, gps, seed):
    """P / Q ratios of DGAE's code layer at the default alpha, beta and with each off."""
    from dgae import DGAE

    lines = ["setting              P ratio   Q ratio   (code layer, gallery pairs)"]
    for label, kw in (("defaults", {}), ("alpha = 0", {"alpha": 0.0}), ("beta = 0", {"beta": 0.0})):
        d = DGAE(random_state=seed, **kw).fit(X, gps).diagnostics_
        lines.append(f"{label:<18} {d['p_ratio'][-1]:9.3f} {d['q_ratio'][-1]:9.3f}")
    return "\n".join(lines)


def main(argv=None):
    from dgae.metrics import parse_thresholds, resolve_thresholds

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="folder with photos.csv (path,lat,lon,location_id)")
    p.add_argument("--protocol", default="heading", choices=["heading", "place", "region"])
    p.add_argument("--region-km", default="auto",
                   help="region protocol: link distance of a region in km, or 'auto'")
    p.add_argument("--out", default="experiments_out/photos", help="tables, predictions, PNGs, cache")
    p.add_argument("--features", default=",".join(FEATURE_SETS),
                   help="feature sets, comma-separated (cnn and fused need the cnn extra)")
    p.add_argument("--cnn-model", default="lite0", choices=("lite0", "lite1", "lite2"),
                   help="the EfficientNet-Lite model of the cnn and fused rows")
    p.add_argument("--rows", default="all", help="rows to run, comma-separated, or 'all'")
    p.add_argument("--heads", default="auto,1nn",
                   help="retrieval heads, comma-separated; 'auto': each row's own (DGAE: the "
                        "head chosen in fit; 1-NN for retrieval rows without one)")
    p.add_argument("--thresholds", default="auto", type=parse_thresholds,
                   help="accuracy thresholds in km, comma-separated, 'paper' or 'auto' (suited to "
                        "the gallery's extent: dgae.metrics.thresholds_for_gallery)")
    p.add_argument("--nca-max", type=int, default=5000, help="NCA fits on at most this many photos")
    p.add_argument("--n-textons", type=int, default=512, help="Im2GPS texton dictionary size")
    p.add_argument("--no-ablation", action="store_true", help="skip the alpha / beta ablation")
    p.add_argument("--n-jobs", type=int, default=None, help="descriptor workers")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    from dgae.experiment import evaluate_methods
    from dgae.datasets import load_geotagged

    data_dir = Path(args.data)
    data = load_geotagged(data_dir, data_dir / "photos.csv")
    if "location_id" not in data.frame:
        raise SystemExit(f"{data_dir / 'photos.csv'}: a location_id column is needed")
    loc = np.asarray(data.frame["location_id"])
    paths = [str(x) for x in data.paths]
    q, g = split(loc, args.protocol, data.gps, args.region_km)
    out = Path(args.out)
    tag = f"{data_dir.name}_{args.protocol}"
    sets = [s for s in args.features.split(",") if s]
    feats = features(paths, g, sets, out, tag, args)
    heads = tuple(args.heads.split(","))
    wanted = None if args.rows == "all" else set(args.rows.split(","))
    methods = {}
    for fs, X in feats.items():
        for row in ROWS[fs]:
            if wanted is not None and row not in wanted:
                continue
            name = row_name(fs, row)
            est = make_row(row, args.seed, args.nca_max)
            methods[name] = (est, X)
    print(f"\n=== {data_dir.name}, {args.protocol} hold-out: {len(q)} queries, {len(g)} gallery",
          flush=True)
    result = None
    for name, (est, X) in methods.items():
        t = time.perf_counter()
        res = evaluate_methods({name: est}, X[g], data.gps[g], X[q], data.gps[q], heads=heads,
                               verbose=0)
        print(f"  {name}: {time.perf_counter() - t:.1f} s", flush=True)
        if result is None:
            result = res
        else:
            for key in result:
                result[key].update(res[key])
    thresholds = resolve_thresholds(args.thresholds, data.gps[g])
    report(result, out, f"{data_dir.name}, {args.protocol} hold-out ({len(q)} queries, "
           f"{len(g)} gallery photos); DGAE defaults, seed {args.seed}; thresholds "
           f"{', '.join(f'{t:g}' for t in thresholds)} km "
           f"({args.thresholds if isinstance(args.thresholds, str) else 'given'})", heads, data.gps[q],
           thresholds)
    for name, est in result["estimators"].items():
        if hasattr(est, "head_label_"):
            print(confidence_report(name, est, methods[name][1][q], data.gps[q]))
    if "DGAE" in methods and not args.no_ablation:
        print("\nGeo-constraint ablation (Im2GPS features):")
        print(ablation(feats["im2gps"][g], data.gps[g], args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
