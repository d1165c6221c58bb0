"""What ``fit`` sees of unseen ground: its held-out views, places and regions, kind by kind.

On one protocol's gallery (``photos.py``'s splits and feature cache), ``DGAE()`` is fitted
with the defaults and with each ``--shares`` value of ``new_place_share``; for each fit this
prints, per kind of held-out photo (views of trained places, whole places, whole regions):
how many, how often the chosen head in the chosen retrieval space is within the confidence
radius, and the calibrated confidence's mean on them -- the reliability per kind, inside
``fit`` (``DGAE.confidence_by_kind_``) -- and how well the confidence tells the kinds apart
(AUROC of views against new ground, and of places against regions; 0.5: not at all); then
the queries' mean confidence against their observed rate.

Example::

    python experiments/unseen_ground.py --data ../shared/data/world_streetview --protocol region \\
        --out experiments_out/world_region
"""
import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photos import features, split  # noqa: E402

def kind_table(model):
    """``model.confidence_by_kind_`` as text."""
    t = model.confidence_by_kind_
    lines = [f"  retrieval {model.retrieval_space_}, head {model.head_label_}; held-out photos "
             f"located among the training photos, within {model.confidence_km_:g} km",
             "  kind        n   observed   mean confidence   mean confidence_seen"]
    for name in ("views", "places", "regions"):
        if name in t:
            r = t[name]
            lines.append(f"  {name:<8} {r['n']:4d} {r['observed']:10.3f} {r['confidence']:17.3f}"
                         f" {r.get('confidence_seen', float('nan')):22.3f}")
    lines.append("  AUROC of the confidence: " + ", ".join(
        f"{k} {v:.3f}" for k, v in t["auroc"].items()))
    return "\n".join(lines)


def main(argv=None):
    from dgae import DGAE
    from dgae.datasets import load_geotagged
    from dgae.metrics import geolocation_errors_km

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="folder with photos.csv (path,lat,lon,location_id)")
    p.add_argument("--protocol", default="region", choices=["heading", "place", "region"])
    p.add_argument("--region-km", default="auto", help="region protocol: link distance in km")
    p.add_argument("--features", default="im2gps", choices=["im2gps", "cnn", "fused"])
    p.add_argument("--cnn-model", default="lite0", choices=("lite0", "lite1", "lite2"))
    p.add_argument("--shares", default="1.0", help="new_place_share values besides the default")
    p.add_argument("--out", default="experiments_out/unseen_ground", help="feature cache folder")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    data_dir = Path(args.data)
    data = load_geotagged(data_dir, data_dir / "photos.csv")
    loc = np.asarray(data.frame["location_id"])
    q, g = split(loc, args.protocol, data.gps, args.region_km)
    opts = SimpleNamespace(n_textons=512, n_jobs=None, seed=args.seed, quiet=True,
                           cnn_model=args.cnn_model)
    X = features([str(x) for x in data.paths], g, [args.features], Path(args.out),
                 f"{data_dir.name}_{args.protocol}", opts)[args.features]
    print(f"{data_dir.name}, {args.protocol} hold-out, {args.features}: {len(q)} queries, "
          f"{len(g)} gallery photos")
    for share in [None] + [float(s) for s in args.shares.split(",") if s]:
        model = DGAE(new_place_share=share, random_state=args.seed).fit(X[g], data.gps[g])
        d = model.predict_details(X[q])
        ok = geolocation_errors_km(data.gps[q], d.gps) <= d.confidence_km
        print(f"\nnew_place_share={share}: queries' mean confidence {d.confidence.mean():.3f}, "
              f"confidence_seen {d.confidence_seen.mean():.3f}, observed {ok.mean():.3f}")
        print(kind_table(model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
