"""How TimeRefiner's default was chosen: its settings on an inner split of the replica's gallery.

The gallery of ``experiments/context.py`` (same ``--n-images`` and
``--seed``; its descriptors are read from that script's cache) is split once
more by user (``GroupShuffleSplit``, 20 % of the gallery's users,
``random_state=1``); every setting of ``TimeRefiner`` is fitted on the inner
gallery and scored on the inner queries, with the real times and with the
times permuted (the control: a setting that loses to M1 with shuffled times
loses information, not time).  Accuracy within 25 / 750 / 2500 km.

Example::

    python experiments/context.py --n-images 5000        # makes the descriptor cache
    python experiments/select_time_model.py --n-images 5000
"""
import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from context import user_split  # noqa: E402

SETTINGS = (
    {"combine": "mlp"},
    {"combine": "mlp", "alpha": 0.1},
    {"combine": "product", "time_C": 0.01},
    {"combine": "product", "time_C": 0.1},
    {"combine": "product", "time_C": 1.0},
)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-images", type=int, default=5000)
    p.add_argument("--out", default="experiments_out/context")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from dgae import CellClassifier, TimeRefiner
    from dgae.datasets import make_city_world
    from dgae.metrics import geolocation_errors_km

    world = make_city_world(n_images=args.n_images, image_size=128, random_state=args.seed,
                            context=True)
    X = np.load(Path(args.out) / "cache" / f"im2gps_context_{args.n_images}_{args.seed}.npy")
    _, g = user_split(world.user, 0.2, args.seed)
    iq, ig = user_split(world.user[g], 0.2, 1)
    iq, ig = g[iq], g[ig]
    rng = np.random.default_rng(args.seed)
    shuffled = world.time.copy()
    shuffled[ig], shuffled[iq] = rng.permutation(world.time[ig]), rng.permutation(world.time[iq])

    def score(pred):
        e = geolocation_errors_km(world.gps[iq], pred)
        return "  ".join(f"{100 * np.mean(e <= t):5.1f}" for t in (25, 750, 2500))

    print(f"inner split: {len(ig)} gallery, {len(iq)} queries; % within 25 / 750 / 2500 km")
    m1 = CellClassifier().fit(X[ig], world.gps[ig])
    print(f"{'M1':<44}{score(m1.predict(X[iq]))}")
    for params in SETTINGS:
        for label, T in (("times", world.time), ("shuffled", shuffled)):
            model = TimeRefiner(random_state=args.seed, **params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X[ig], world.gps[ig], time=T[ig], groups=world.user[ig])
            print(f"{str(params) + ', ' + label:<44}{score(model.predict(X[iq], time=T[iq]))}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
