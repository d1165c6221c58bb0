"""Near-duplicate queries: two overlapping crops of one photo as two shots of one scene.

A development protocol for galleries that hold other shots of the query's scene (a landmark
set: another photo of the same facade), built from shared photos.  Each photo of ``--data``
(a folder with ``photos.csv``: ``path,lat,lon,location_id``) is cut into two crops of
``--crop`` of its width, one from the left edge and one from the right (with the default
0.75 they share two thirds of their pixels), saved as JPEGs under ``OUT/crops``.  The right
crops of a random ``--query-share`` of the photos (``default_rng(seed)``) are the queries;
the gallery holds every left crop and the other right crops, so each query's overlapping twin
is in the gallery, with the other headings of its place.

Rows on the Im2GPS descriptors (textons and block scales fitted on the gallery crops only):
LF (1-NN on the descriptors), LF auto (``GeoKNN(head="auto")``), DGAE code
(``DGAE(input_share=0)``: retrieval on the learned code alone, as before the retrieval space
was chosen in fit) and DGAE (defaults: the space chosen on held-out photos).  Thresholds suit
the gallery's extent.  This is a development aid for the choice of the retrieval space, not a
target to tune to.

Example::

    python experiments/overlap.py --data ../shared/data/croatia_streetview \\
        --out experiments_out/croatia_overlap
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cached, report  # noqa: E402


def overlapping_crops(paths, out, share=0.75):
    """Save a left and a right crop of ``share`` of each photo's width; their paths.

    Returns
    -------
    left, right : list of str

    Examples
    --------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> d = tempfile.mkdtemp()
    >>> Image.new("RGB", (40, 30), (255, 0, 0)).save(os.path.join(d, "a.png"))
    >>> left, right = overlapping_crops([os.path.join(d, "a.png")], os.path.join(d, "crops"))
    >>> Image.open(left[0]).size, Image.open(right[0]).size
    ((30, 30), (30, 30))
    """
    from PIL import Image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    left, right = [], []
    for i, path in enumerate(paths):
        names = (out / f"{i:06d}_l.jpg", out / f"{i:06d}_r.jpg")
        if not all(n.exists() for n in names):
            with Image.open(path) as im:
                im = im.convert("RGB")
                w, h = im.size
                cw = int(round(share * w))
                im.crop((0, 0, cw, h)).save(names[0], quality=95)
                im.crop((w - cw, 0, w, h)).save(names[1], quality=95)
        left.append(str(names[0]))
        right.append(str(names[1]))
    return left, right


def main(argv=None):
    from dgae import DGAE, GeoKNN
    from dgae.datasets import load_geotagged
    from dgae.features import Im2GPSDescriptor
    from dgae.metrics import thresholds_for_gallery
    from dgae.experiment import evaluate_methods

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="folder with photos.csv (path,lat,lon,location_id)")
    p.add_argument("--out", default="experiments_out/overlap", help="crops, tables, cache")
    p.add_argument("--crop", type=float, default=0.75, help="share of the width of each crop")
    p.add_argument("--query-share", type=float, default=0.25, help="photos whose right crop is a query")
    p.add_argument("--n-textons", type=int, default=512, help="Im2GPS texton dictionary size")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    data_dir, out = Path(args.data), Path(args.out)
    data = load_geotagged(data_dir, data_dir / "photos.csv")
    n = len(data.paths)
    left, right = overlapping_crops([str(x) for x in data.paths], out / "crops", args.crop)
    paths = left + right
    gps = np.concatenate([data.gps, data.gps])
    rng = np.random.default_rng(args.seed)
    q = n + np.sort(rng.permutation(n)[: int(round(args.query_share * n))])
    g = np.setdiff1d(np.arange(2 * n), q)

    def describe():
        d = Im2GPSDescriptor(n_textons=args.n_textons, random_state=args.seed)
        return d.fit([paths[i] for i in g]).transform(paths)

    X, sec = cached(out / "cache" / f"{data_dir.name}_crops_im2gps.npy", describe)
    print(f"Im2GPS descriptors of {len(paths)} crops {X.shape} ({sec:.0f} s); {len(q)} queries, "
          f"{len(g)} gallery crops", flush=True)
    methods = {"LF": None, "LF auto": GeoKNN(head="auto", random_state=args.seed),
               "DGAE code": DGAE(input_share=0.0, random_state=args.seed),
               "DGAE": DGAE(random_state=args.seed)}
    t = time.perf_counter()
    result = evaluate_methods(methods, X[g], gps[g], X[q], gps[q], heads=("auto", "1nn"), verbose=0)
    thresholds = thresholds_for_gallery(gps[g])
    report(result, out, f"{data_dir.name}, overlapping crops ({args.crop:g} of the width; "
           f"{len(q)} queries, {len(g)} gallery crops; seed {args.seed}; "
           f"{time.perf_counter() - t:.0f} s)", ("auto", "1nn"), gps[q], thresholds)
    for name, est in result["estimators"].items():
        if hasattr(est, "retrieval_space_"):
            print(f"{name}: retrieval {est.retrieval_space_}, head {est.head_label_}; held-out "
                  "scores " + ", ".join(f"{k} {v:.3f}" for k, v in est.retrieval_scores_.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
