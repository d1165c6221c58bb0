"""``dgae extract PHOTOS.csv --out features.npy``: resumable Im2GPS descriptor extraction."""
from ._common import (HelpFormatter, add_cluster_flags, add_seed, add_verbosity, check_output,
                      load_fitted_descriptor, note_resume, on_cluster, verbosity)


def add_parser(subparsers):
    """Register the ``extract`` subcommand.

    Examples
    --------
    >>> import argparse
    >>> sub = argparse.ArgumentParser().add_subparsers()
    >>> add_parser(sub).prog.endswith("extract")
    True
    """
    p = subparsers.add_parser(
        "extract", formatter_class=HelpFormatter,
        help="describe the photos of a CSV into a .npy file (resumable)",
        description="Compute Im2GPS descriptors for every photo listed in a CSV and stream them "
                    "into a .npy file, chunk by chunk.  Run the same command again after an "
                    "interruption: finished chunks are kept, the rest is computed.",
    )
    p.add_argument("csv", help="CSV with a column of photo paths (relative to --root)")
    p.add_argument("--out", required=True, help="output .npy file")
    p.add_argument("--path-column", default="path", help="column holding the paths")
    p.add_argument("--root", default=None, help="folder relative paths start from (None: the CSV's folder)")
    p.add_argument("--chunk-size", type=int, default=1024, help="rows flushed and marked done together")
    p.add_argument("--fit-size", type=int, default=2000, help="photos the textons and block scales are fitted on")
    p.add_argument("--n-textons", type=int, default=512)
    p.add_argument("--descriptors", default=None,
                   help="comma-separated blocks (None: tiny5,tiny16,lab_hist,texton,edge_hist,gist)")
    p.add_argument("--descriptor-from", default=None, metavar="FITTED",
                   help="reuse a fitted descriptor: a model from dgae fit, a features .npy made by "
                        "dgae extract, or a joblib file of an Im2GPSDescriptor (then --descriptors, "
                        "--n-textons and --fit-size do not apply)")
    p.add_argument("--on-error", choices=("skip", "raise"), default="skip",
                   help="skip: NaN row + OUT.errors.jsonl; raise: stop at the first bad photo")
    p.add_argument("--n-jobs", type=int, default=None, help="worker processes (default 1; -1: all cores)")
    add_cluster_flags(p)
    add_seed(p)
    p.add_argument("--overwrite", action="store_true", help="start again even if OUT holds a run")
    add_verbosity(p)
    p.set_defaults(func=run)
    return p


def _paths(args):
    import os

    from ..utils import read_table

    _, rows = read_table(args.csv, required=[args.path_column])
    names = [row[args.path_column] for row in rows]
    root = args.root if args.root is not None else os.path.dirname(os.path.abspath(args.csv))
    return [os.path.join(root, p) for p in names]


def run(args):
    """Run the extraction described by the parsed ``args``; returns the exit code."""
    import numpy as np

    from dgae.features import DEFAULT_DESCRIPTORS, Im2GPSDescriptor, extract_to_npy

    check_output(args.out)
    if args.descriptor_from:
        descriptor = load_fitted_descriptor(args.descriptor_from)
        descriptor.set_params(on_error=args.on_error)
    else:
        names = DEFAULT_DESCRIPTORS if args.descriptors is None else tuple(args.descriptors.split(","))
        descriptor = Im2GPSDescriptor(descriptors=names, n_textons=args.n_textons,
                                      on_error=args.on_error, random_state=args.seed)
    paths = _paths(args)
    if not args.overwrite:
        note_resume(args.out, "photos", verbosity(args))
    with on_cluster(args):
        X = extract_to_npy(paths, args.out, descriptor, chunk_size=args.chunk_size,
                           fit_size=args.fit_size, n_jobs=args.n_jobs, overwrite=args.overwrite,
                           verbose=verbosity(args), random_state=args.seed)
    bad = int((~np.isfinite(X).all(axis=1)).sum())
    print(f"{args.out}: {X.shape[0]} x {X.shape[1]} float32, {bad} unreadable photo(s)")
    return 0
