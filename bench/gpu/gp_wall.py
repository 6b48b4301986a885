#!/usr/bin/env python3
"""The memory wall of the exact GP likelihood in PyTorch and GPyTorch, beside GpuAD.Bench gp-wall.

For each path, n doubles from --from while the NLL and its gradient for theta, X and y (float64,
Matern 5/2, ARD over d dimensions, one problem) complete on the GPU within --time-s seconds and
without CUDA running out of memory; prints one markdown row per n and path: the wall time and
torch.cuda.max_memory_allocated. Paths: 'torch' (K formed from X, torch.linalg.cholesky,
cholesky_solve and the log-diagonal, autograd through all of it) and 'gpytorch'
(ExactMarginalLogLikelihood with ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=d)) and
GaussianLikelihood, Cholesky forced with gpytorch.settings.max_cholesky_size).

Usage: python3 bench/gpu/gp_wall.py [--from N] [--time-s S] [--d D]
"""

import argparse
import math
import time

import torch


def data(n, d, device):
    g = torch.Generator().manual_seed(n)
    x = 10 * torch.rand(n, d, generator=g, dtype=torch.float64)
    y = torch.sin(x[:, 0]) + 0.1 * torch.rand(n, generator=g, dtype=torch.float64)
    return x.to(device), y.to(device)


def torch_nll(n, d, device):
    x, y = data(n, d, device)
    x.requires_grad_(True)
    y.requires_grad_(True)
    log_s2 = torch.zeros((), dtype=torch.float64, device=device, requires_grad=True)
    log_l = torch.zeros(d, dtype=torch.float64, device=device, requires_grad=True)
    log_n2 = torch.full((), math.log(0.1), dtype=torch.float64, device=device, requires_grad=True)
    z = x / torch.exp(log_l)
    r = torch.cdist(z, z)
    a = math.sqrt(5) * r
    k = torch.exp(log_s2) * (1 + a + a * a / 3) * torch.exp(-a)
    k = k + torch.exp(log_n2) * torch.eye(n, dtype=torch.float64, device=device)
    l = torch.linalg.cholesky(k)
    alpha = torch.cholesky_solve(y[:, None], l)
    nll = 0.5 * (y[:, None] * alpha).sum() + torch.log(torch.diagonal(l)).sum() + 0.5 * n * math.log(2 * math.pi)
    nll.backward()
    return nll.item()


def gpytorch_nll(n, d, device):
    import gpytorch

    x, y = data(n, d, device)
    x.requires_grad_(True)

    class Model(gpytorch.models.ExactGP):
        def __init__(self, likelihood):
            super().__init__(x, y, likelihood)
            self.mean = gpytorch.means.ZeroMean()
            self.cov = gpytorch.kernels.ScaleKernel(gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=d))

        def forward(self, inputs):
            return gpytorch.distributions.MultivariateNormal(self.mean(inputs), self.cov(inputs))

    likelihood = gpytorch.likelihoods.GaussianLikelihood().to(device=device, dtype=torch.float64)
    model = Model(likelihood).to(device=device, dtype=torch.float64)
    model.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)
    with gpytorch.settings.max_cholesky_size(10**9), gpytorch.settings.fast_computations(False, False, False):
        nll = -mll(model(x), y) * n  # the MLL is divided by n
        nll.backward()
    return nll.item()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--from", dest="start", type=int, default=256)
    p.add_argument("--time-s", type=float, default=120)
    p.add_argument("--d", type=int, default=8)
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"device {torch.cuda.get_device_name(0) if device.type == 'cuda' else 'cpu'}; torch {torch.__version__}; "
          f"float64, Matern 5/2, ARD, d = {args.d}; time cap {args.time_s} s\n")
    print("| path | n | wall (s) | peak allocated (bytes) | peak / n²·8 | outcome |")
    print("|---|---:|---:|---:|---:|---|")
    for name, fn in (("torch", torch_nll), ("gpytorch", gpytorch_nll)):
        try:
            fn(args.start, args.d, device)  # compiles and loads outside the timed runs
        except Exception as e:  # noqa: BLE001 - reported, the next path runs
            print(f"| {name} | warm-up failed: {type(e).__name__}: {str(e).splitlines()[0]} | | | | |")
            continue
        n, largest = args.start, 0
        while True:
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            try:
                fn(n, args.d, device)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                outcome = "ok"
            except torch.cuda.OutOfMemoryError as e:
                outcome = "out of memory: " + str(e).splitlines()[0][:80]
            seconds = time.perf_counter() - t0
            peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else 0
            print(f"| {name} | {n:,} | {seconds:.2f} | {peak:,} | {peak / (8.0 * n * n):.3f} | {outcome} |", flush=True)
            if outcome != "ok":
                break
            largest = n
            if seconds > args.time_s:
                break
            n *= 2
        print(f"| {name} | largest n: {largest:,} | | | | |")


if __name__ == "__main__":
    main()
