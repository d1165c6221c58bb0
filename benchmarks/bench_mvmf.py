"""Training speed of MvMFRegressor: seconds per epoch on the CPU and (when CuPy finds one) the GPU.

Synthetic photos of the Im2GPS descriptor's shape (D = 2,971 features) at
random places of a few hundred cities, the default partition (S2 cells of
about 25 photos: ~n / 25 components), a fixed number of epochs (no early
stop).  Reference, measured in the same run on each device: the epoch's
three GEMMs alone (logits ``X W``, the weight gradient ``X^T dZ``, both
``(n, D) x (D, c)``-shaped, plus the ``(n, c) x (c, 3)`` mean gradient), so
the ratio says how much of an epoch is anything but those products.

Usage::

    python benchmarks/bench_mvmf.py                 # n = 5,000, CPU (and GPU when present)
    python benchmarks/bench_mvmf.py --n 50000 --devices gpu
"""
import argparse
import time
import warnings

import numpy as np


def synthetic(n, d, seed=0):
    rng = np.random.default_rng(seed)
    cities = np.column_stack([rng.uniform(-60, 70, 300), rng.uniform(-180, 180, 300)])
    city = rng.integers(300, size=n)
    gps = cities[city] + rng.normal(0, 0.05, (n, 2))
    X = rng.normal(size=(300, d)).astype(np.float32)[city] + rng.normal(size=(n, d)).astype(
        np.float32)
    return X, gps


def gemm_seconds(n, d, c, device, repeats=3):
    """Seconds of one epoch's products alone, on ``device``."""
    from dgae.utils import get_xp

    xp = get_xp(device)
    X = xp.ones((n, d), dtype=xp.float32)
    W = xp.ones((d, c), dtype=xp.float32)
    R = xp.ones((n, c), dtype=xp.float64)
    Y = xp.ones((n, 3), dtype=xp.float64)
    best = np.inf
    for _ in range(repeats):
        _sync(xp)
        t = time.perf_counter()
        Z = X @ W
        G = X.T @ Z
        M = R.T @ Y
        del Z, G, M
        _sync(xp)
        best = min(best, time.perf_counter() - t)
    return best


def _sync(xp):
    if xp is not np:
        xp.cuda.Stream.null.synchronize()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--d", type=int, default=2971)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--devices", default="cpu,gpu")
    args = p.parse_args(argv)
    from dgae import MvMFRegressor
    from dgae.utils import gpu_available

    X, gps = synthetic(args.n, args.d)
    print(f"n = {args.n:,}, D = {args.d:,}, {args.epochs} epochs, batch {args.batch_size}")
    print(f"{'device':<8}{'cells':>8}{'s/epoch':>10}{'GEMMs s':>10}{'share':>8}{'final loss':>12}")
    for device in args.devices.split(","):
        if device == "gpu" and not gpu_available():
            print("gpu     skipped: CuPy finds no CUDA device")
            continue
        model = MvMFRegressor(max_iter=args.epochs, batch_size=args.batch_size, device=device,
                              random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if device == "gpu":   # warm-up: CuPy compiles its kernels on first use
                MvMFRegressor(max_iter=1, device="gpu", random_state=0).fit(X[:2000], gps[:2000])
            t = time.perf_counter()
            model.fit(X, gps)
        per_epoch = (time.perf_counter() - t) / model.n_iter_
        c = len(model.cells_)
        gemm = gemm_seconds(args.n, args.d, c, device)
        print(f"{device:<8}{c:>8}{per_epoch:>10.3f}{gemm:>10.3f}{gemm / per_epoch:>8.0%}"
              f"{model.loss_curve_[-1]:>12.3f}", flush=True)
    return 0


if __name__ == "__main__":
    main()
