#!/usr/bin/env bash
# Prepares the GPU benchmark for the lent GPU machine (which has CUDA and PyTorch but no .NET):
# publishes GpuAD.Bench (framework-dependent), keeps only what its self-timed runner loads,
# packs it with the .NET runtime into .device/ (../shared/device/pack-dotnet.sh), and prints
# the device command. Run from anywhere in the checkout:
#
#   bash bench/gpu/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
pack=$(readlink -f ../shared/device/pack-dotnet.sh 2>/dev/null || true)
[ -x "$pack" ] || { echo "run.sh: ../shared/device/pack-dotnet.sh not found beside this checkout" >&2; exit 2; }

pub=artifacts/bench-publish tool=artifacts/tool-publish app=artifacts/bench-device
rm -rf "$pub" "$tool" "$app"
dotnet publish bench/GpuAD.Bench -c Release -o "$pub" -nologo -v quiet
dotnet publish src/Host/Tool -c Release -o "$tool" -nologo -v quiet
# The runner and `gpuad check`/`gpuad tune`/`gpuad devices` need every GpuAD assembly (the tool's
# include GpuAD.Distributed, which its terminal set-up loads), ILGPU, the suites, System.CommandLine,
# Spectre.Console, System.Numerics.Tensors and MathNet.Numerics; BenchmarkDotNet, ScottPlot and
# SkiaSharp (charts) stay behind. Without a deps.json the host loads the assemblies of the app's
# folder. Each entry point is started once below (`--help`), so a missing assembly fails here, not
# on the GPU machine.
mkdir -p "$app"
cp "$pub"/GpuAD*.dll "$pub"/ILGPU*.dll "$pub"/GpuAD.Bench.runtimeconfig.json "$pub"/suites.json "$app"/
cp "$tool"/GpuAD*.dll "$tool"/GpuAD.Tool.runtimeconfig.json "$tool"/System.CommandLine.dll "$tool"/Spectre.Console.dll \
  "$tool"/System.Numerics.Tensors.dll "$tool"/MathNet.Numerics.dll "$app"/

if [ -d .git ]; then
  "$pack" "$app"
else
  # A linked worktree: its .git is a file, and pack-dotnet.sh writes to .git/info/exclude. Pack in
  # a scratch repository (reusing the packed runtime) and move .device/ here (.gitignore ignores it).
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  git init -q "$scratch"
  [ -d .device ] && cp -r .device "$scratch"/
  (cd "$scratch" && "$pack" "$top/$app")
  rm -rf .device && mv "$scratch/.device" .device
fi

du -sh .device | awk '{print ".device: " $1 " (the carry limit is 64 MiB)"}'

# Each entry point started once from the package, on this machine's CPU: an assembly left out fails
# here rather than on the GPU machine.
for entry in "GpuAD.Tool.dll devices" "GpuAD.Bench.dll plan --n 1024"; do
  # shellcheck disable=SC2086
  if ! out=$(GPUAD_DEVICE=cpu bash .device/run.sh $entry 2>&1); then
    echo "run.sh: the packed '$entry' fails:" >&2
    echo "$out" | tail -n 12 >&2
    exit 1
  fi
done
echo "packed entry points start: GpuAD.Tool (devices), GpuAD.Bench (plan)"

cat <<'CMD'

Device command (device tool `run`, carry [".device"], timeout_s 600; at most 9 minutes on an H100):

  bash bench/gpu/device-run.sh 2>&1 | tee $OUT/device-run.log

What comes back in $OUT: device-run.log, info.log, check.log, tune.log, tuning.json (the GPU's
tuning table, for src/Kernels/Tuning/), DATE-GPU.md and DATE-GPU-gp.md (the comparison tables to
copy to bench/results/), and device-run.tar.gz (every log and JSON).
CMD
