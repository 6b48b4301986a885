#!/usr/bin/env bash
# A per-kernel profile on the GPU machine (device tool run, carry [".device"]):
#   bash bench/gpu/profile-run.sh 2>&1 | tee $OUT/profile-run.log
# Runs the gpu and gp suites with --profile (each case timed as usual, then one run with a device
# synchronization around every launch, its kernels listed by time) within BUDGET_S seconds.
set -u
: "${OUT:?set OUT to the results folder}"
cd "$(dirname "$0")/../.."
budget=${BUDGET_S:-200}
bench() { GPUAD_DEVICE=${GPUAD_DEVICE:-cuda} bash .device/run.sh GpuAD.Bench.dll "$@"; }
date -u
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv 2>&1
for t in nsys ncu ptxas cuobjdump; do command -v $t || echo "$t: not on PATH"; done
timeout $((budget / 2)) bash -c "$(declare -f bench); bench run --suite gp --reps ${REPS:-3} --profile --budget-s $((budget / 2 - 15)) --out $OUT/gp" 2>&1
timeout $((budget / 2)) bash -c "$(declare -f bench); bench run --suite gpu --reps ${REPS:-3} --profile --budget-s $((budget / 2 - 15)) ${FILTER:+--filter $FILTER} --out $OUT/suite" 2>&1
echo "profile run: done, $(date -u)"
