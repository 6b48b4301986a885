#!/usr/bin/env bash
# GP NLL + gradient, n = 2048, d = 8, ARD Matérn-5/2, fp64: GpuAD vs scikit-learn vs PyTorch-CPU, one run.
# usage: bash bench/gp/run.sh [OUTDIR]   (Debian's /usr/bin/python3 with python3-sklearn and python3-torch)
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-$(mktemp -d)}"
dotnet build src/Host/Tool -c Release -v q -nologo >/dev/null
/usr/bin/python3 bench/gp/peers.py --tool src/Host/Tool/bin/Release/net10.0/GpuAD.Tool.dll --out "$out" --n 2048 --d 8 --repeat 5
echo "table: $out/gp-bench.md"
