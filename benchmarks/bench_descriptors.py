"""Speed and LF 1-NN accuracy of the Im2GPS descriptors on croatia_streetview.

Prints
1. photos/s end to end (decode included) for n_jobs=1 and n_jobs=2,
2. ms/photo per stage (decode, shared resize, each block; a shared
   intermediate -- Lab image, texton responses -- counts for the first block
   that needs it),
3. the LF (low-level features) 1-NN accuracy on the heading hold-out protocol
   of ../shared/data/README.md, for the full set and for block subsets (the
   same-run reference is tiny16 + lab_hist; the README's crude tiny+Lab
   reference is 22.0 % @ 1 km).

    python benchmarks/bench_descriptors.py --n-photos 200
    python benchmarks/bench_descriptors.py --n-photos 800 --skip-accuracy

Run single-threaded per process (OpenCV / BLAS threads = 1) so photos/s is
per core.
"""
import argparse
import os
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from dgae.features import Im2GPSDescriptor, load_image  # noqa: E402
from dgae.features import BLOCKS, WORK, Views  # noqa: E402
from dgae.features import block_scales, hellinger_map  # noqa: E402
from dgae.datasets import heading_holdout_split, load_geotagged  # noqa: E402
from dgae.graphs import nearest_neighbors  # noqa: E402
from dgae.metrics import geolocation_errors_km  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "croatia_streetview"
THRESHOLDS_KM = (1, 25, 200, 750)


def load_table(data):
    return load_geotagged(data, "photos.csv", check_images=False)


def speed(paths, n_jobs_list, fit_n):
    desc = Im2GPSDescriptor(random_state=0).fit(paths[:fit_n])
    rows = []
    for n_jobs in n_jobs_list:
        desc.set_params(n_jobs=n_jobs)
        desc.transform(paths[:2 * n_jobs])  # start the worker pool outside the clock
        t, c = time.perf_counter(), _cpu_with_workers()
        desc.transform(paths)
        wall, cpu = time.perf_counter() - t, _cpu_with_workers() - c
        rows.append((n_jobs, len(paths) / wall, len(paths) / wall / n_jobs, len(paths) / cpu))
    return desc, rows


def _clock():
    return np.array([time.perf_counter(), time.process_time()])


def _cpu_with_workers():
    """CPU seconds of this process and its live children (the joblib/loky workers)."""
    import psutil

    procs = [psutil.Process(), *psutil.Process().children(recursive=True)]
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def stage_times(paths, textons):
    """(wall, CPU) ms/photo of decode, shared resize/grey, and each block (sequential)."""
    totals = {"decode": 0.0, "resize + grey": 0.0, **{n: 0.0 for n in BLOCKS}}
    for p in paths:
        t0 = _clock()
        rgb = load_image(p, min_side=WORK)
        t1 = _clock()
        views = Views(rgb)
        views.grey_half  # noqa: B018  (the shared canvas, grey and half-size grey)
        t2 = _clock()
        totals["decode"] += t1 - t0
        totals["resize + grey"] += t2 - t1
        for name, (func, _) in BLOCKS.items():
            t = _clock()
            func(views, textons)
            totals[name] += _clock() - t
    return {k: 1e3 * v / len(paths) for k, v in totals.items()}


def one_nn_accuracy(Xq, Xg, gps_q, gps_g):
    _, nn = nearest_neighbors(Xq.astype(np.float32), Xg.astype(np.float32), 1, device="cpu")
    err = geolocation_errors_km(gps_q, gps_g[nn[:, 0]])
    return [100 * np.mean(err <= t) for t in THRESHOLDS_KM] + [float(np.median(err))]


LAYOUT_DOWN = {"tiny5": 1 / 16, "tiny16": 1 / 16, "edge_hist": 1 / 16, "gist": 1 / 16}


def variants(names):
    """(label, blocks, hellinger, block_weights or "raw") rows of the accuracy table."""
    rows = [
        ("all 6 (defaults: Hellinger, equal)", names, True, None),
        ("all 6, no Hellinger", names, False, None),
        ("all 6, no Hellinger, no scaling", names, False, "raw"),
        ("tiny16 + lab_hist, no Hellinger", ["tiny16", "lab_hist"], False, None),
        ("tiny16 + lab_hist", ["tiny16", "lab_hist"], True, None),
    ]
    rows += [(f"{n} only", [n], True, None) for n in names]
    rows += [(f"all but {n}", [m for m in names if m != n], True, None) for n in names]
    rows += [("lab_hist + texton", ["lab_hist", "texton"], True, None),
             ("all 6, weights layout blocks 1/16", names, True, LAYOUT_DOWN)]
    return rows


def accuracy(data, n_jobs):
    """LF 1-NN rows; raw blocks are computed once, variants re-weight them."""
    query, gallery = heading_holdout_split(data.frame["location_id"])
    paths, gps = data.paths, data.gps
    desc = Im2GPSDescriptor(random_state=0, n_jobs=n_jobs, hellinger=False, normalize_blocks=False)
    raw_g = desc.fit_transform([paths[i] for i in gallery])  # fitted on the gallery only
    raw_q = desc.transform([paths[i] for i in query])
    sl = desc.feature_slices_
    rows = []
    for label, names, hell, weights in variants(list(sl)):
        g, q = raw_g.astype(np.float64), raw_q.astype(np.float64)
        if hell:
            g, q = hellinger_map(g, sl), hellinger_map(q, sl)
        scales = {n: 1.0 for n in sl} if weights == "raw" else block_scales(g, sl, weights)
        cols = np.concatenate([np.arange(sl[n].start, sl[n].stop) for n in names])
        factor = np.concatenate([np.full(sl[n].stop - sl[n].start, scales[n]) for n in names])
        rows.append((label, *one_nn_accuracy(q[:, cols] * factor, g[:, cols] * factor,
                                             gps[query], gps[gallery])))
    return rows


def encoder_speed(paths, models, n_jobs, engines=None):
    """photos/s of CNNDescriptor(model=m, n_jobs=n_jobs, engine=e) on ``paths`` (decode
    included; the model loaded -- and exported, for onnx -- and warmed up on 4 photos first),
    with Im2GPS on the same photos as the same-run reference, and each engine's largest
    difference from the first engine's features."""
    from dgae.features import CNNDescriptor, cuda_available

    if engines is None:  # every engine that runs here
        engines = (("cuda",) if cuda_available() else ()) + ("onnx", "torch")
    rows = []
    ref = Im2GPSDescriptor(n_jobs=n_jobs, random_state=0).fit(paths[:50])
    t = time.perf_counter()
    ref.transform(paths)
    rows.append(("im2gps (reference)", len(paths) / (time.perf_counter() - t), ""))
    for model in models:
        first = None
        for engine in engines:
            enc = CNNDescriptor(model=model, n_jobs=n_jobs, engine=engine).fit()
            enc.transform(paths[:4])
            t = time.perf_counter()
            X = enc.transform(paths)
            rate = len(paths) / (time.perf_counter() - t)
            diff = "" if first is None else f"max |diff| {np.abs(X - first).max():.1e}"
            first = X if first is None else first
            rows.append((f"cnn {model} ({enc.input_size_} px), {enc.engine_}", rate, diff))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n-photos", type=int, default=200, help="photos timed for photos/s")
    ap.add_argument("--n-stage", type=int, default=100, help="photos timed per stage")
    ap.add_argument("--fit-photos", type=int, default=100, help="photos the speed run fits on")
    ap.add_argument("--jobs", default="1,2", help="comma-separated n_jobs values")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--encoders", default=None,
                    help="also time CNNDescriptor models, e.g. lite0,lite1,lite2 (the cnn extra), "
                         "with the largest --jobs value")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    data = load_table(args.data)
    paths = data.paths
    print(f"{len(paths)} photos in {args.data}; {os.cpu_count()} CPUs (shared machine: timings noisy)")
    if not args.skip_speed:
        desc, rows = speed(paths[:args.n_photos], [int(j) for j in args.jobs.split(",")], args.fit_photos)
        print(f"\nend-to-end transform of {min(args.n_photos, len(paths))} photos ({desc.n_features_out_} dims)")
        print(f"{'n_jobs':>6} {'photos/s':>9} {'per job':>8} {'per CPU-s':>10}")
        for n_jobs, rate, per, per_cpu in rows:
            print(f"{n_jobs:>6} {rate:>9.1f} {per:>8.1f} {per_cpu:>10.1f}")
        times = stage_times(paths[:args.n_stage], desc.textons_)
        print(f"\nms/photo per stage ({args.n_stage} photos, one process)")
        print(f"  {'stage':<14} {'wall':>7} {'CPU':>7}")
        for name, (wall, cpu) in times.items():
            print(f"  {name:<14} {wall:7.2f} {cpu:7.2f}")
        wall, cpu = sum(times.values())
        print(f"  {'total':<14} {wall:7.2f} {cpu:7.2f}  ({1e3 / wall:.1f} photos/s wall, "
              f"{1e3 / cpu:.1f} per CPU-second)")
    if args.encoders:
        jobs = max(int(j) for j in args.jobs.split(","))
        print(f"\nencoders, {args.n_photos} photos, n_jobs={jobs} (decode included)")
        for label, rate, diff in encoder_speed(paths[:args.n_photos], args.encoders.split(","), jobs):
            print(f"  {label:<30} {rate:7.1f} photos/s  {diff}")
    if not args.skip_accuracy:
        rows = accuracy(data, n_jobs=max(int(j) for j in args.jobs.split(",")))
        print("\nLF 1-NN, croatia heading hold-out (200 queries / 600 gallery); "
              "README crude tiny+Lab reference: 22.0 % @ 1 km")
        print(f"{'features':<40}" + "".join(f"{f'@{t} km':>9}" for t in THRESHOLDS_KM) + f"{'median km':>11}")
        for label, *acc, med in rows:
            print(f"{label:<40}" + "".join(f"{a:>8.1f}%" for a in acc) + f"{med:>11.1f}")


if __name__ == "__main__":
    main()
