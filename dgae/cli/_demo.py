"""``dgae demo``: the whole method on a small synthetic replica, in minutes, offline."""
from ._common import HelpFormatter, add_model_flags, add_seed, add_verbosity
from ..experiment import DEMO_DEFAULTS as _D


def _run(args):
    """Run the demo described by the parsed ``args``; returns the exit code."""
    import time
    from pathlib import Path

    from ..experiment import run_demo

    layers = args.layers  # parsed by the CLI (a tuple) or None
    t = time.perf_counter()
    res = run_demo(out_dir=args.out, n_jobs=args.n_jobs, verbose=0 if args.quiet else 1,
                   n_images=args.n_images, n_test=args.n_test, image_size=args.image_size,
                   hidden_layer_sizes=layers, max_iter=args.max_iter, gamma=args.gamma,
                   learning_rate=args.learning_rate, n_textons=args.n_textons,
                   random_state=args.seed)
    print()
    print("Accuracy (% of queries within each distance) on the SYNTHETIC replica — "
          "not the paper's data or numbers:")
    print(res["table"])
    st = res["stage_seconds"]
    print(f"\ntimings: generate {st['generate']:.1f} s, descriptors {st['describe']:.1f} s, "
          f"methods {st['methods']:.1f} s, total {time.perf_counter() - t:.1f} s")
    print(f"outputs: {Path(args.out) / 'predictions.csv'} (try: dgae evaluate it), "
          f"{Path(args.out)}/error_curves_*.png")
    return 0


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
