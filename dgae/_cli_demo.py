"""``dgae demo``: the whole method on a small synthetic replica, in minutes, offline."""
from ._demo import DEMO_DEFAULTS as _D


def _run(args):
    from ._demo import _run as run

    return run(args)


def add_parser(subparsers):
    """Register ``dgae demo``."""
    p = subparsers.add_parser(
        "demo", help="run LF, AE, DGAE and fDGAE on a small synthetic replica (downloads nothing)",
        description="Generate a small synthetic replica of the paper's 35-area photo set, "
                    "describe it, train LF / AE / DGAE / fDGAE with DGAE's defaults, print the "
                    "accuracy table with timings and write the error curves. Numbers on the "
                    "synthetic replica are not the paper's.")
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--n-images", type=int, default=_D["n_images"], help="photos generated")
    p.add_argument("--n-test", type=int, default=_D["n_test"], help="query photos held out")
    p.add_argument("--image-size", type=int, default=_D["image_size"])
    p.add_argument("--layers", default=None,
                   help="hidden layer sizes, comma-separated (default: DGAE's)")
    p.add_argument("--max-iter", type=int, default=None, help="training iterations (default: DGAE's)")
    p.add_argument("--gamma", type=float, default=None, help="weight decay (default: DGAE's)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="initial step (default: DGAE's, for its optimiser)")
    p.add_argument("--n-textons", type=int, default=_D["n_textons"])
    p.add_argument("--n-jobs", type=int, default=-1, help="descriptor workers (-1: all cores)")
    p.add_argument("--seed", type=int, default=_D["random_state"])
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_run)
    return p
