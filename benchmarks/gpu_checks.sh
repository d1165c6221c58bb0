#!/usr/bin/env bash
# The device checks, one script: the gpu-marked tests, then the GPU benchmarks (logs under $OUT).
# Usage on a machine with CuPy and a CUDA device:  OUT=/tmp/out bash benchmarks/gpu_checks.sh
# With the argument e2e, instead: the paper's Table 6 end to end on the GPU, a default DGAE fit
# with the exact Q at 664,720 replica photos and 1,000 queries (target: under 5 minutes).
set -o pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-benchmarks_out}; mkdir -p "$OUT"
python3 -c "import numpy, scipy, sklearn, cupy; print('numpy', numpy.__version__, 'scipy', scipy.__version__, 'sklearn', sklearn.__version__, 'cupy', cupy.__version__)" 2>&1 | tee "$OUT/versions.txt"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee -a "$OUT/versions.txt"
if [ "$1" = e2e ]; then
  timeout 540 python3 benchmarks/bench_scale.py --n 664720 --end-to-end --graph exact --device gpu 2>&1 | tee "$OUT/bench_scale_e2e.log"
  exit
fi
timeout 200 python3 -m pytest -q -p no:cacheprovider -m gpu tests 2>&1 | tee "$OUT/gpu_tests.log" | tail -n 15
# CNN features on every engine that runs here (CUDA where torch sees the GPU), then the fused
# fit end to end; both need the cnn extra and ../shared (skipped without)
if python3 -c "import torch, efficientnet_lite_pytorch" 2>/dev/null && [ -d ../shared/data ]; then
  timeout 180 python3 benchmarks/bench_descriptors.py --n-photos 400 --skip-accuracy --skip-speed --jobs 16 --encoders lite1 2>&1 | tee "$OUT/bench_descriptors_cnn.log"
  ( time timeout 300 dgae fit ../shared/data/world_streetview/photos.csv --descriptor fused --out "$OUT/fused.joblib" -q ) 2>&1 | tee "$OUT/fused_fit.log"
fi
timeout 120 python3 benchmarks/bench_mvmf.py --n 20000 --epochs 3 2>&1 | tee "$OUT/bench_mvmf.log"
timeout 150 python3 benchmarks/bench_training.py --device gpu --n 200000 2>&1 | tee "$OUT/bench_training.log"
