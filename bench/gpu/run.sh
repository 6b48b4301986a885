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

pub=artifacts/bench-publish app=artifacts/bench-device
rm -rf "$pub" "$app"
dotnet publish bench/GpuAD.Bench -c Release -o "$pub" -nologo -v quiet
# The runner needs GpuAD, ILGPU and the suites; BenchmarkDotNet and its dependencies (about 30 MB)
# stay behind. Without a deps.json the host loads the assemblies of the app's folder.
mkdir -p "$app"
cp "$pub"/GpuAD*.dll "$pub"/ILGPU*.dll "$pub"/GpuAD.Bench.runtimeconfig.json "$pub"/suites.json "$app"/

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

cat <<'CMD'

Device command (device tool `run`, carry [".device"], timeout_s 600; about 8 minutes on an H100):

  set -o pipefail; export PYTHONUNBUFFERED=1; GPUAD_DEVICE=cuda bash .device/run.sh GpuAD.Bench.dll run --suite gpu --out $OUT 2>&1 | tee $OUT/gpuad.log; python3 bench/torch_ref.py --out $OUT 2>&1 | tee $OUT/torch.log; python3 bench/gpu/compare.py $OUT

The results come back in $OUT: gpuad.json, gpuad.md, torch.json, the logs, and DATE-GPU.md (the
comparison table); copy DATE-GPU.md to bench/results/.
CMD
