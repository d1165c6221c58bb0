"""``dgae demo``: the whole method on a small synthetic replica, in minutes, offline."""
from ._cli_common import HelpFormatter, add_model_flags, add_seed, add_verbosity
from ._demo import DEMO_DEFAULTS as _D


def _run(args):
    from ._demo import _run as run

    return run(args)


def add_parser(subparsers):
    """Register ``dgae demo``."""
    p = subparsers.add_parser(
        "demo", formatter_class=HelpFormatter,
        help="run LF, AE, DGAE and fDGAE on a small synthetic replica (downloads nothing)",
        description="Generate a small synthetic replica of the paper's 35-area photo set, "
                    "describe it, train LF / AE / DGAE / fDGAE with DGAE's defaults, print the "
                    "accuracy table with timings and write the error curves. Numbers on the "
                    "synthetic replica are not the paper's.")
    p.add_argument("--out", default="demo_out", help="output folder")
    p.add_argument("--n-images", type=int, default=_D["n_images"], help="photos generated")
    p.add_argument("--n-test", type=int, default=_D["n_test"], help="query photos held out")
    p.add_argument("--image-size", type=int, default=_D["image_size"])
    add_model_flags(p)
    p.add_argument("--n-textons", type=int, default=_D["n_textons"])
    p.add_argument("--n-jobs", type=int, default=-1, help="descriptor workers (-1: all cores)")
    add_seed(p, default=_D["random_state"])
    add_verbosity(p)
    p.set_defaults(func=_run)
    return p
