#!/usr/bin/env bash
# GpuAD on the CPU accelerator (CPU-tuned kernels) against PyTorch on the CPU, side by side in one
# run with the same cases (suite "cpu" of bench/suites.json): Cholesky forward + backward at
# 256×64², 64×128², n = 256, 512, 1024, and GEMM/TRSM/POTRF at n = 1024, fp64 and fp32.
# Writes bench/results/DATE-cpu.md. Run it on a quiet machine; the file records the load.
#
#   bash bench/cpu/run.sh            # the full suite (a few minutes on 2 cores)
#   bash bench/cpu/run.sh --quick    # tiny sizes, a smoke test; writes under artifacts/ only
#
# PyTorch is Debian's python3-torch (/usr/bin/python3) on libopenblas0-pthread, 2 threads.
set -euo pipefail
cd "$(dirname "$0")/../.."
quick=
case "${1:-}" in
  --quick) quick=--quick ;;
  "") ;;
  *) echo "usage: bash bench/cpu/run.sh [--quick]" >&2; exit 2 ;;
esac
python=/usr/bin/python3
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "run.sh: $python cannot import torch; install Debian's: apt-get install -y python3-torch libopenblas0-pthread" >&2
  exit 2
fi

date=$(date +%F)
work=artifacts/bench-cpu${quick:+-quick}
md=bench/results/$date-cpu.md
[ -n "$quick" ] && md=$work/$date-cpu-quick.md
rm -rf "$work" && mkdir -p "$work"

dotnet build bench/GpuAD.Bench -c Release -nologo -v quiet
dll=bench/GpuAD.Bench/bin/Release/net10.0/GpuAD.Bench.dll
gpuad_cmd="GPUAD_DEVICE=cpu dotnet $dll run --suite cpu $quick --out $work"
torch_cmd="$python bench/torch_ref.py --suite cpu $quick --device cpu --threads 2 --out $work"

load() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(load)
echo "load average at start: $load_start"
env GPUAD_DEVICE=cpu dotnet "$dll" run --suite cpu $quick --out "$work"
load_mid=$(load)
"$python" bench/torch_ref.py --suite cpu $quick --device cpu --threads 2 --out "$work"
load_end=$(load)
echo "load average at end: $load_end"

blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)
machine="$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores ($(lscpu | sed -n 's/^Core(s) per socket: *//p' | head -1) per socket), $(free -g | awk '/^Mem:/{print $2}') GiB; $(uname -sr); BLAS $blas"
TITLE="GpuAD (CPU accelerator) vs PyTorch CPU" MACHINE="$machine" LOAD_START="$load_start" LOAD_MID="$load_mid" LOAD_END="$load_end" \
COMMAND="bash bench/cpu/run.sh $quick  (= $gpuad_cmd; $torch_cmd)" "$python" - "$work/meta.json" <<'PY'
import json, os, sys
keys = {"title": "TITLE", "machine": "MACHINE", "load_start": "LOAD_START", "load_mid": "LOAD_MID",
        "load_end": "LOAD_END", "command": "COMMAND"}
json.dump({k: os.environ[v].strip() for k, v in keys.items()}, open(sys.argv[1], "w"), indent=2)
PY
"$python" bench/gpu/compare.py "$work" --md "$md" > /dev/null
echo "wrote $md"
