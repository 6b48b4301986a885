#!/usr/bin/env bash
# The prepared device run: one command on the GPU machine (no .NET there: the packed .device/ from
# bench/gpu/run.sh), run from the repository root with carry [".device"]:
#
#   bash bench/gpu/device-run.sh 2>&1 | tee $OUT/device-run.log
#
# Steps, each under its own time limit and independent of the others' failure, all within
# BUDGET_S seconds (default 520, inside the device tool's 600):
#   info   the GPU and driver (nvidia-smi), what ILGPU sees (gpuad devices; GpuAD.Bench diagnose:
#          architecture, PTX ISA, the PTX of the SIMT and DMMA GEMM kernels, one GEMM of each checked),
#          the driver's JIT log of that PTX (jit_log.py) and ptxas's (registers, spills; the cause
#          when ILGPU's module load fails)
#   check  gpuad check --device cuda: gradcheck and adjoint test of every op in both types
#   ptx    (CUDA only) the same with GPUAD_PTX_TARGET=device: ILGPU 1.5.3 writes .target sm_80 on
#          every GPU of 8.0 and later (docs/ilgpu-ptx-target.md); this raises it to the GPU's own
#          architecture (sm_90 on an H100): diagnose's PTX through the driver's JIT, then the whole
#          check (ptx.log in the archive)
#   tune   gpuad tune: the GEMM tilings (SIMT and DMMA), split-K, the Cholesky block sizes,
#          threads per row, look-ahead and two levels (potrfOuterBlock, potrfPanelInverse, potrfStreams) timed on this GPU within
#          150 s (20 s with QUICK) -> $OUT/tuning.json, which the later GpuAD steps then read
#          (GPUAD_TUNING) once it has proved loadable, after gpuad check has run again with it
#          (check-tuned.log in the archive); skipped on the CPU family (nothing to tune)
#   gp     a Gaussian process's NLL and gradient at n = 4096 and 16384, fp64: GpuAD against
#          GPyTorch's exact marginal log likelihood with Cholesky forced (suite gp)
#   suite  the gpu suite (bench/suites.json) with GpuAD, then with PyTorch (bench/torch_ref.py),
#          compared (bench/gpu/compare.py): times, executed GFLOP/s, peak device memory; with
#          PROFILE=1 each GpuAD case is also profiled per kernel (suite/profile.txt in the archive)
#   wall   (only when named in STEPS) the largest n of the exact GP likelihood's value + gradient,
#          n doubling: GpuAD.Bench gp-wall (fused and composed) and bench/gpu/gp_wall.py (PyTorch,
#          GPyTorch), in wall-gpuad.log and wall-torch.log of the archive
# Results: $OUT/info.log, check.log, tune.log, tuning.json, DATE-GPU.md, DATE-GPU-gp.md,
# device-run.tar.gz (everything).
#
# Without a GPU (to test the pipeline): GPUAD_DEVICE=cpu QUICK=1 PYTHON=/usr/bin/python3 runs the
# same steps on the CPU accelerator with the -quick suites (tune skipped); STEPS="info tune" with
# GPUAD_DEVICE=emulated-gpu runs only those steps, the sweep on the emulated GPU.
set -u
: "${OUT:?set OUT to the results folder}"
cd "$(dirname "$0")/../.."
budget=${BUDGET_S:-520}
device=${GPUAD_DEVICE:-cuda}
py=${PYTHON:-python3}
quick=${QUICK:+--quick}
steps=" ${STEPS:-info check ptx tune gp suite} "
work=$OUT/run
mkdir -p "$work"
start=$(date +%s)
export PYTHONUNBUFFERED=1 NO_COLOR=1
left() { echo $(( budget - ($(date +%s) - start) )); }

# step NAME LIMIT_S COMMAND...: runs COMMAND with its output in $work/NAME.log, within LIMIT_S
# and what is left of the budget; never stops the script.
step() {
  local name=$1 limit=$2; shift 2
  case $steps in *" ${name%%-*} "*) ;; *) echo "== $name: not run (steps:$steps)"; return ;; esac
  local l; l=$(left)
  if [ "$l" -lt 20 ]; then echo "== $name: not run, the budget of ${budget} s is spent"; return; fi
  [ "$limit" -gt "$l" ] && limit=$l
  echo "== $name (at most ${limit} s): $*"
  local t0; t0=$(date +%s)
  timeout -k 10 "$limit" bash -c '"$@"' step "$@" > "$work/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$work/$name.log"
  echo "== $name: exit $rc$([ $rc = 124 ] && echo ' (time limit)') after $(( $(date +%s) - t0 )) s"
}

gpuad() { GPUAD_DEVICE=$device bash .device/run.sh GpuAD.Tool.dll "$@"; }
bench() { GPUAD_DEVICE=$device bash .device/run.sh GpuAD.Bench.dll "$@"; }

info() {
  date -u
  nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,clocks.max.sm --format=csv 2>&1 || echo "nvidia-smi: not available"
  nvidia-smi 2>&1 | head -n 20
  "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1
  echo "--- gpuad devices"; gpuad devices 2>&1
  echo "--- GpuAD.Bench diagnose"; bench diagnose --out "$work/diagnose" 2>&1
  local ptx cap
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  for ptx in "$work"/diagnose/gemm_f64.ptx "$work"/diagnose/gemm_f64_dmma.ptx; do
    [ -f "$ptx" ] || continue
    echo "--- the driver's JIT on $(basename "$ptx") (cuModuleLoadDataEx's info and error logs)"
    "$py" bench/gpu/jit_log.py "$ptx" 2>&1
    if [ -n "$cap" ] && command -v ptxas > /dev/null; then
      echo "--- ptxas -arch=sm_$cap -v on the same PTX"
      ptxas -arch="sm_$cap" -v "$ptx" -o "${ptx%.ptx}.cubin" 2>&1
      echo "ptxas exit $?"
    fi
  done
}

# The PTX with the GPU's own target architecture, loaded by the driver's JIT and checked end to end.
ptx() {
  export GPUAD_PTX_TARGET=device
  bench diagnose --out "$work/diagnose-device-target" 2>&1
  local f=$work/diagnose-device-target/gemm_f64_dmma.ptx
  if [ -f "$f" ]; then
    echo "--- the driver's JIT on $(basename "$f") with the device's target"
    "$py" bench/gpu/jit_log.py "$f" 2>&1
  fi
  echo "--- gpuad check with GPUAD_PTX_TARGET=device"
  gpuad check --device "$device" 2>&1
}

export work device py
export -f gpuad bench info ptx
echo "GpuAD device run: budget ${budget} s, device ${device}${quick:+, quick suites}, $(date -u)"
step info 50 info
step check 100 gpuad check --device "$device"
if [ "$device" = cuda ]; then step ptx 60 ptx; else echo "== ptx: skipped, no CUDA device (GPUAD_DEVICE=$device)"; fi
# The sweep's own budget, plus 25 s to start, open the GPU and finish the candidate in flight.
tune_s=${TUNE_S:-150}; [ -n "$quick" ] && tune_s=${TUNE_S:-20}
rm -f "$OUT/tuning.json"
if [ "$device" = cpu ]; then
  echo "== tune: skipped, the CPU family has nothing to tune (GPUAD_DEVICE=cpu); the later steps use no table"
else
  step tune $((tune_s + 25)) gpuad tune --device "$device" --budget "$tune_s" --out "$OUT/tuning.json"
  rm -f "$OUT"/.tuning.json.*.tmp # what a sweep stopped by its time limit leaves
fi
# A table that does not load would fail every later GpuAD step: it is used only once 'gpuad devices' reads it.
if [ -f "$OUT/tuning.json" ]; then
  if GPUAD_TUNING=$OUT/tuning.json timeout 30 bash -c 'gpuad devices' > "$work/tune-check.log" 2>&1; then
    export GPUAD_TUNING=$OUT/tuning.json
    echo "== tune: the later GpuAD steps use GPUAD_TUNING=$GPUAD_TUNING"
    tuned=1
  else
    echo "== tune: $OUT/tuning.json does not load, the later steps use no table: $(tail -n 1 "$work/tune-check.log")"
  fi
fi
# The swept table's variants (DMMA tilings, threads per row, block sizes) checked end to end before they are timed.
[ -n "${tuned:-}" ] && step check-tuned 100 gpuad check --device "$device"
step gp-gpuad 70 bench run --suite gp $quick --budget-s 55 --out "$work/gp"
step gp-torch 50 "$py" bench/torch_ref.py --suite gp $quick --budget-s 40 --out "$work/gp"
# The suite gets what is left: GpuAD's budget leaves PyTorch's side its 100 s and the run
# without cuBLAS (GPUAD_CUBLAS=off: the ILGPU kernels alone, the fallback) its 60 s.
suite_s=$(( $(left) - 210 )); [ $suite_s -gt 240 ] && suite_s=240; [ $suite_s -lt 30 ] && suite_s=30
step suite-gpuad $((suite_s + 30)) bench run --suite gpu $quick ${PROFILE:+--profile} --budget-s "$suite_s" --out "$work/suite"
step suite-ilgpu 70 env GPUAD_CUBLAS=off GPUAD_DEVICE=$device bash .device/run.sh GpuAD.Bench.dll run --suite gpu $quick --budget-s 50 --out "$work/suite-ilgpu"
step suite-torch 100 "$py" bench/torch_ref.py --suite gpu $quick --budget-s 80 --out "$work/suite"
# Not in the default STEPS (STEPS="info wall" runs it): the largest n of the exact GP likelihood's
# value + gradient, GpuAD's fused and composed paths against PyTorch and GPyTorch, n doubling from 4096.
step wall-gpuad 200 bench gp-wall --from 4096 --time-s 60
step wall-torch 150 "$py" bench/gpu/gp_wall.py --from 4096 --time-s 60

gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr 'A-Z ' 'a-z-')
name=$(date +%F)-${gpu:-cpu}
"$py" bench/gpu/compare.py "$work/suite" --md "$OUT/$name.md" > "$work/compare.log" 2>&1 && cat "$OUT/$name.md"
"$py" bench/gpu/compare.py "$work/gp" --md "$OUT/$name-gp.md" >> "$work/compare.log" 2>&1 && cat "$OUT/$name-gp.md"
# GpuAD without cuBLAS against PyTorch on the cases it reached (its timings beside the same torch run).
if [ -d "$work/suite-ilgpu" ]; then
  cp "$work"/suite/torch*.json "$work/suite-ilgpu/" 2>/dev/null
  "$py" bench/gpu/compare.py "$work/suite-ilgpu" --md "$OUT/$name-ilgpu-only.md" >> "$work/compare.log" 2>&1 && cat "$OUT/$name-ilgpu-only.md"
fi
cp "$work/info.log" "$OUT/info.log" 2>/dev/null
cp "$work/check.log" "$OUT/check.log" 2>/dev/null
cp "$work/tune.log" "$OUT/tune.log" 2>/dev/null
tar -C "$OUT" -czf "$OUT/device-run.tar.gz" run && rm -rf "$work"
echo "GpuAD device run: done in $(( $(date +%s) - start )) s; results in $OUT: $(ls "$OUT" | tr '\n' ' ')"
