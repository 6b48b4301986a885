#!/usr/bin/env python3
"""PyTorch reference timings for `gpuad bench`.

Times the same ops as the tool, on inputs built by the same recipes (every operand n x n,
well-conditioned), with the same rules: one untimed run, then the median of --repeat runs; the
forward pass and the backward pass (every input's gradient) each timed between synchronizations.

Prints one JSON object on stdout:
  {"torch": VERSION, "device": "cpu"|"cuda:NAME", "threads": N,
   "results": [{"op", "n", "batch", "dtype", "forward_ms", "backward_ms", "total_ms"}, ...]}

Usage: python3 torch_reference_bench.py --ops cholesky,matmul --sizes 64,128 --batch 1 \
           --dtype f64 --repeat 5 --device cpu
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch


def make_inputs(op, n, batch, dtype, device, gen):
    """The operands of `op`, as in CliOp.BenchInputs (src/Host/Tool/Ops/CliOps.cs)."""

    def uniform():
        return torch.rand(batch, n, n, dtype=dtype, generator=gen) * 2 - 1

    eye = torch.eye(n, dtype=dtype)

    def spd():  # 2·I + W, W symmetric with |W_ij| < 1/n: eigenvalues in (1, 3)
        w = uniform() / n
        lower = torch.tril(w, -1)
        return lower + lower.transpose(-1, -2) + torch.diag_embed(2 + torch.diagonal(w, dim1=-2, dim2=-1))

    def triangular():  # lower, |diagonal| in [1, 2] with random sign, off-diagonal below 1/n
        sign = torch.where(torch.rand(batch, n, generator=gen, dtype=dtype) < 0.5, -1.0, 1.0).to(dtype)
        diag = (1 + torch.rand(batch, n, dtype=dtype, generator=gen)) * sign
        return torch.tril(uniform() / n, -1) + torch.diag_embed(diag)

    def invertible():  # 2·I + E/sqrt(n)
        return 2 * eye + uniform() / math.sqrt(n)

    kinds = {
        "matmul": [uniform, uniform],
        "axb": [uniform, uniform, uniform],
        "cholesky": [spd],
        "triangular-solve": [triangular, uniform],
        "a-xinv-b": [uniform, invertible, uniform],
        "logdet": [spd],
        "cholesky-solve": [spd, uniform],
    }
    return [make().to(device) for make in kinds[op]]


def function(op):
    """The op, as the library computes it."""
    return {
        "matmul": lambda a, b: a @ b,
        "axb": lambda a, x, b: a @ x @ b,
        "cholesky": lambda s: torch.linalg.cholesky(s),
        "triangular-solve": lambda t, b: torch.linalg.solve_triangular(t, b, upper=False),
        "a-xinv-b": lambda a, x, b: a @ torch.linalg.solve(x, b),
        # log det through Cholesky, as GpuAD computes it
        "logdet": lambda s: 2 * torch.log(torch.diagonal(torch.linalg.cholesky(s), dim1=-2, dim2=-1)).sum(-1),
        "cholesky-solve": lambda s, b: torch.cholesky_solve(b, torch.linalg.cholesky(s)),
    }[op]


def measure(op, n, batch, dtype, device, repeat, seed):
    gen = torch.Generator().manual_seed(seed)
    inputs = make_inputs(op, n, batch, dtype, device, gen)
    f = function(op)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    cotangent = None

    def once():
        nonlocal cotangent
        xs = [x.detach().requires_grad_() for x in inputs]
        sync()
        start = time.perf_counter()
        y = f(*xs)
        sync()
        forward_end = time.perf_counter()
        if cotangent is None:
            cotangent = (torch.rand(y.shape, dtype=dtype, generator=gen) * 2 - 1).to(device)
        backward_start = time.perf_counter()
        y.backward(cotangent)
        sync()
        end = time.perf_counter()
        return (forward_end - start) * 1e3, (end - backward_start) * 1e3

    once()  # untimed: allocator and library warm-up
    runs = [once() for _ in range(repeat)]
    return {
        "op": op,
        "n": n,
        "batch": batch,
        "dtype": "f32" if dtype == torch.float32 else "f64",
        "forward_ms": statistics.median(r[0] for r in runs),
        "backward_ms": statistics.median(r[1] for r in runs),
        "total_ms": statistics.median(r[0] + r[1] for r in runs),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ops", required=True, help="comma-separated op names")
    p.add_argument("--sizes", required=True, help="comma-separated orders n")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--dtype", choices=["f32", "f64"], default="f64")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    if args.device == "cuda" and not torch.cuda.is_available():
        args.device = "cpu"  # reported in "device"
    device = torch.device(args.device)
    dtype = torch.float32 if args.dtype == "f32" else torch.float64
    results = [
        measure(op, int(n), args.batch, dtype, device, args.repeat, args.seed)
        for op in args.ops.split(",")
        for n in args.sizes.split(",")
    ]
    name = f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "cpu"
    json.dump({"torch": torch.__version__, "device": name, "threads": torch.get_num_threads(), "results": results}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
