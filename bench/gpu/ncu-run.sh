#!/usr/bin/env bash
# Nsight Compute on GpuAD's kernels, and the GP suite's per-kernel profile, on the GPU machine
# (device tool run, carry [".device"]):
#   bash bench/gpu/ncu-run.sh 2>&1 | tee $OUT/ncu-run.log
# Writes $OUT/gp/profile.txt (GpuAD.Bench run --suite gp --profile) and $OUT/ncu-cholesky.txt: ncu's
# launch, occupancy, warp-state and speed-of-light sections for NCU_COUNT launches of a Cholesky
# forward+backward at n = 1024 after NCU_SKIP (those of the engine's small kernel-loading problem).
set -u
: "${OUT:?set OUT to the results folder}"
cd "$(dirname "$0")/../.."
export GPUAD_DEVICE=${GPUAD_DEVICE:-cuda}
ncu=${NCU:-/usr/local/cuda/bin/ncu}
date -u
timeout 80 bash .device/run.sh GpuAD.Bench.dll run --suite gp --reps 2 --profile --budget-s 60 --out "$OUT/gp" 2>&1 | tail -n 40
echo "--- ncu"
timeout 150 "$ncu" --target-processes all --launch-skip "${NCU_SKIP:-30}" --launch-count "${NCU_COUNT:-40}" \
  --section LaunchStats --section Occupancy --section WarpStateStats --section SpeedOfLight \
  bash .device/run.sh GpuAD.Bench.dll run --suite gpu --filter cholesky/fp64/1x1024 --reps 1 --warmup 1 --out "$OUT/ncu-suite" > "$OUT/ncu-cholesky.txt" 2>&1
echo "ncu exit $?"; tail -n 5 "$OUT/ncu-cholesky.txt"; grep -c "Kernel_" "$OUT/ncu-cholesky.txt"
echo "ncu run: done, $(date -u)"
