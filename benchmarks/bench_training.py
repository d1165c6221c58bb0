"""Training speed of the DGAE autoencoder: time per epoch and achieved GFLOP/s.

One epoch of Algorithm 1 (full-batch gradient of Eq. 4 + update) on synthetic
data of the paper's shape (D = 2,971, layers [2000, 1000, 500], k1 = 20,
k2 = 10 random pairs per photo), or one epoch of mini-batch SGD.

FLOPs are counted from the GEMMs actually run: per layer ``2 n in out`` for
the forward product, the same for the weight gradient, and the same again
for the input gradient (every layer except the first encoder layer, whose
input gradient is not needed).  The encoder runs on the epoch's encoder rows
(N for full batch, 3 N for sampled-partner SGD), the decoder on N rows.
Sparse Laplacian products and element-wise work are not counted (they are
part of the time, so the ratio is conservative).

References, measured in the same run:

- CPU: a plain NumPy float32 matmul of the largest layer's shape
  (``(rows, D) @ (D, 2000)``); the ratio of the two GFLOP/s figures is the
  efficiency (target >= 70 %).
- GPU: the same maths in PyTorch fp32 (manual backward, pair terms as a
  sparse Laplacian product, chunks of 65,536 rows), when torch is importable.

Usage::

    python benchmarks/bench_training.py                      # CPU, N = 20,000
    python benchmarks/bench_training.py --device gpu         # N = 664,720, CuPy fp32 (+ PyTorch)
    python benchmarks/bench_training.py --device gpu --tf32  # CuPy with TF32 GEMMs
"""
import argparse
import os
import time

import numpy as np
import scipy.sparse as sp

from dgae.autoencoder import ROW_CHUNK
from dgae.utils import comma_ints


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--n", type=int, default=None, help="photos (default 20,000 CPU / 664,720 GPU)")
    p.add_argument("--d", type=int, default=2971, help="feature dimension")
    p.add_argument("--hidden", default="2000,1000,500")
    p.add_argument("--k1", type=int, default=20)
    p.add_argument("--k2", type=int, default=10)
    p.add_argument("--mode", choices=("full", "sgd"), default="full")
    p.add_argument("--batch-size", type=int, default=256, help="SGD anchors per batch")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--chunk", type=int, default=ROW_CHUNK, help="rows per GEMM block (full batch)")
    p.add_argument("--tf32", action="store_true", help="CuPy: allow TF32 tensor-core GEMMs")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def synthetic(n, d, k1, k2, seed):
    """Uniform features in [0, 1] and k1 / k2 random pairs per row."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, d), dtype=np.float32)

    def pairs(k):
        cols = rng.integers(0, n - 1, (n, k))
        cols += cols >= np.arange(n)[:, None]  # no self pairs
        return sp.csr_matrix((np.ones(n * k, np.float32), (np.repeat(np.arange(n), k), cols.ravel())),
                             shape=(n, n))

    return X, pairs(k1), pairs(k2)


def epoch_flops(sizes, enc_rows, dec_rows):
    """GEMM FLOPs of one epoch (forward + backward of encoder and decoder)."""
    n_enc = (len(sizes) - 1) // 2
    total = 0
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        rows = enc_rows if l < n_enc else dec_rows
        gemms = 2 if l == 0 else 3  # forward, dW (, d input)
        total += gemms * 2.0 * rows * a * b
    return total


def matmul_gflops(xp, rows, d, h, sync, repeats=3):
    """GFLOP/s of a plain float32 ``(rows, d) @ (d, h)`` matmul."""
    A = xp.ones((rows, d), dtype=xp.float32) * 0.5
    B = xp.ones((d, h), dtype=xp.float32) * 0.01
    C = A @ B
    sync()
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        C = A @ B
        sync()
        best = min(best, time.perf_counter() - t0)
    del C
    return 2.0 * rows * d * h / best / 1e9


def gemm_sequence_seconds(xp, sizes, enc_rows, dec_rows, sync):
    """Time of the epoch's GEMMs alone (same shapes, same count), nothing else."""
    n_enc = (len(sizes) - 1) // 2
    total = 0.0
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        rows = enc_rows if l < n_enc else dec_rows
        A = xp.full((rows, a), 0.5, dtype=xp.float32)
        W = xp.full((a, b), 0.01, dtype=xp.float32)
        D = xp.full((rows, b), 0.1, dtype=xp.float32)
        sync()
        t0 = time.perf_counter()
        _ = A @ W          # forward
        _ = A.T @ D        # weight gradient
        if l:
            _ = D @ W.T    # input gradient
        sync()
        total += time.perf_counter() - t0
        del A, W, D, _
    return total


def run_dgae(args, X, P, Q, hidden, xp):
    from dgae.autoencoder import LossWeights, train

    loss = LossWeights(alpha=0.2, beta=0.1, gamma=0.05, k1=args.k1, k2=args.k2, objective="paper")

    def run(epochs):
        t0 = time.perf_counter()
        res = train(X, P, Q, hidden_layer_sizes=hidden, loss=loss,
                    learning_rate=0.01 if args.mode == "full" else 0.001, max_iter=epochs,
                    tol=0.0, batch_size=None if args.mode == "full" else args.batch_size,
                    xp=xp, random_state=args.seed, chunk_size=args.chunk)
        if xp is not np:
            xp.cuda.get_current_stream().synchronize()
        return time.perf_counter() - t0, res

    one, _ = run(1)           # set-up and one epoch
    total, res = run(args.epochs + 1)
    # an epoch's seconds: what the other epochs add (the set-up cancels)
    return (total - one) / args.epochs, res["loss_curve"]["J"][1:]


def torch_epoch(X, P, Q, hidden, k1, k2, chunk, alpha=0.2, beta=0.1, gamma=0.05, lr=0.01, seed=0):
    """Reference: one full-batch epoch of the same maths in PyTorch fp32 (CUDA)."""
    import torch

    from dgae.autoencoder import init_params, layer_sizes, pair_laplacian

    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    coefs, ints = init_params(X.shape[1], hidden, seed)
    W = [torch.tensor(w, device=dev) for w in coefs]
    b = [torch.tensor(v, device=dev) for v in ints]
    Xt = torch.tensor(X, device=dev)

    def lap(A):
        L = pair_laplacian(A).tocoo()
        idx = torch.tensor(np.vstack([L.row, L.col]), dtype=torch.long, device=dev)
        return torch.sparse_coo_tensor(idx, torch.tensor(L.data, dtype=torch.float32, device=dev),
                                       L.shape).to_sparse_csr()

    LP, LQ = lap(P), lap(Q)
    n, M = Xt.shape[0], len(hidden)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    enc = [[] for _ in range(M)]
    for r0 in range(0, n, chunk):
        a = Xt[r0:r0 + chunk]
        for m in range(M):
            a = torch.sigmoid(a @ W[m] + b[m])
            enc[m].append(a)
    enc = [torch.cat(e) for e in enc]
    H = enc[-1]
    G = (2 * alpha / (n * k1)) * (LP @ H) - (2 * beta / (n * k2)) * (LQ @ H)
    gW = [torch.zeros_like(w) for w in W]
    gb = [torch.zeros_like(v) for v in b]
    for r0 in range(0, n, chunk):
        x = Xt[r0:r0 + chunk]
        acts = [x] + [e[r0:r0 + chunk] for e in enc]
        for m in range(M, 2 * M):
            acts.append(torch.sigmoid(acts[-1] @ W[m] + b[m]))
        g = (acts[-1] - x) / n
        for l in range(2 * M - 1, -1, -1):
            out = acts[l + 1]
            delta = g * out * (1 - out)
            gW[l] += acts[l].T @ delta
            gb[l] += delta.sum(0)
            if l:
                g = delta @ W[l].T
            if l == M:
                g = g + G[r0:r0 + chunk]
    for w, v, gw, gv in zip(W, b, gW, gb):
        w -= lr * (gw + 2 * gamma * w)
        v -= lr * (gv + 2 * gamma * v)
    torch.cuda.synchronize()
    return time.perf_counter() - t0, layer_sizes(X.shape[1], hidden)


def main(argv=None):
    args = parse_args(argv)
    if args.tf32:
        os.environ["CUPY_TF32"] = "1"  # read by CuPy at import
    n = args.n or (20000 if args.device == "cpu" else 664720)
    hidden = comma_ints(args.hidden)
    from dgae.autoencoder import layer_sizes
    from dgae.utils import get_xp

    xp = get_xp(args.device)
    sync = (lambda: None) if xp is np else (lambda: xp.cuda.get_current_stream().synchronize())
    X, P, Q = synthetic(n, args.d, args.k1, args.k2, args.seed)
    sizes = layer_sizes(args.d, hidden)
    enc_rows = n if args.mode == "full" else 3 * n
    flops = epoch_flops(sizes, enc_rows, n)
    rows_ref = min(n, args.chunk) if args.mode == "full" else 3 * args.batch_size
    # the reference is measured before and after the epochs (the machine may be shared)
    ref_before = matmul_gflops(xp, rows_ref, args.d, hidden[0], sync)
    t, J = run_dgae(args, X, P, Q, hidden, xp)
    ref = 0.5 * (ref_before + matmul_gflops(xp, rows_ref, args.d, hidden[0], sync))
    t_gemm = gemm_sequence_seconds(xp, sizes, enc_rows if args.mode == "full" else 3 * args.batch_size,
                                   n if args.mode == "full" else args.batch_size, sync)
    if args.mode == "sgd":  # per batch -> per epoch
        t_gemm *= -(-n // args.batch_size)
    label = f"DGAE {args.device} fp32{' TF32' if args.tf32 else ''} ({args.mode})"
    print(f"N={n:,} D={args.d} layers={list(hidden)} k1={args.k1} k2={args.k2} mode={args.mode} "
          f"threads={os.environ.get('OMP_NUM_THREADS', 'default')}")
    print(f"{'what':40s} {'s/epoch':>10s} {'GFLOP/s':>10s} {'ratio':>8s}")
    print(f"{'plain matmul (' + str(rows_ref) + 'x' + str(args.d) + ')@(' + str(args.d) + 'x' + str(hidden[0]) + ')':40s} "
          f"{'':>10s} {ref:10.1f} {1.0:8.2f}")
    print(f"{'same GEMMs alone (no element-wise/sparse)':40s} {t_gemm:10.2f} {flops / t_gemm / 1e9:10.1f} "
          f"{flops / t_gemm / 1e9 / ref:8.2f}")
    print(f"{label:40s} {t:10.2f} {flops / t / 1e9:10.1f} {flops / t / 1e9 / ref:8.2f}")
    print(f"DGAE epoch vs its GEMMs alone: {t_gemm / t:.2f} of the time is GEMM")
    print(f"epoch GEMM work: {flops / 1e12:.2f} TFLOP; J after the epoch(s): {J[-1]:.4g}")
    if args.device == "gpu" and args.mode == "full" and not args.no_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("PyTorch reference: torch is not importable, skipped")
        else:
            tt, _ = torch_epoch(X, P, Q, hidden, args.k1, args.k2, args.chunk)
            print(f"{'PyTorch fp32 reference (full)':40s} {tt:10.2f} {flops / tt / 1e9:10.1f} "
                  f"{'':>8s}  DGAE/PyTorch time = {t / tt:.2f}x")


if __name__ == "__main__":
    main()
