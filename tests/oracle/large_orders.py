#!/usr/bin/env python3
"""Checks GpuAD's blocked path at orders past the GPU family's block thresholds against PyTorch
float64: Cholesky (value and Σ̄ for a random L̄, batch 2) and an RBF Gaussian-process NLL and
its gradient in θ, at n = 600 and 777 (blocks of 64, ragged last block), through the tool.

    /usr/bin/python3 tests/oracle/large_orders.py --tool PATH/GpuAD.Tool --device emulated-gpu

Prints the largest relative error of each output and exits 1 if any exceeds 1e-10. On the
emulated GPU it takes about ten minutes on 2 cores; seconds on a GPU.
"""
import argparse, os, subprocess, sys, tempfile
import numpy as np
import torch

torch.set_default_dtype(torch.float64)
ap = argparse.ArgumentParser()
ap.add_argument("--tool", required=True)
ap.add_argument("--device", default="emulated-gpu")
ap.add_argument("--orders", default="600,777")
ap.add_argument("--tolerance", type=float, default=1e-10)
args = ap.parse_args()

rng = np.random.default_rng(42)
worst = 0.0
with tempfile.TemporaryDirectory() as d:
    for n in map(int, args.orders.split(",")):
        a = rng.standard_normal((2, n, n)) / np.sqrt(n)
        s = a @ a.transpose(0, 2, 1) + np.eye(n)
        g = rng.standard_normal((2, n, n))
        np.save(f"{d}/S.npy", s); np.save(f"{d}/G.npy", g)
        st = torch.tensor(s, requires_grad=True)
        l = torch.linalg.cholesky(st)
        l.backward(torch.tensor(g))
        subprocess.run([args.tool, "vjp", "cholesky", "--input", f"sigma={d}/S.npy", "--cotangent", f"{d}/G.npy",
                        "--out", f"{d}/chol", "--device", args.device], check=True, stdout=subprocess.DEVNULL)

        x = rng.uniform(-2, 2, (n, 3)); y = np.sin(x.sum(1)) + 0.1 * rng.standard_normal(n)
        theta = np.array([0.3, -0.2, -2.0])  # log signal variance, log lengthscale, log noise variance
        np.save(f"{d}/X.npy", x); np.save(f"{d}/y.npy", y); np.save(f"{d}/theta.npy", theta)
        th = torch.tensor(theta, requires_grad=True)
        xt = torch.tensor(x)
        d2 = ((xt[:, None, :] - xt[None, :, :]) ** 2).sum(-1)
        k = th[0].exp() * torch.exp(-0.5 * d2 / th[1].exp() ** 2) + th[2].exp() * torch.eye(n)
        lk = torch.linalg.cholesky(k)
        yt = torch.tensor(y)[:, None]
        nll = 0.5 * (yt * torch.cholesky_solve(yt, lk)).sum() + lk.diagonal().log().sum() + 0.5 * n * np.log(2 * np.pi)
        nll.backward()
        subprocess.run([args.tool, "gp", "nll", "--x", f"{d}/X.npy", "--y", f"{d}/y.npy", "--kernel", "rbf", "--theta", f"{d}/theta.npy",
                        "--out", f"{d}/gp", "--device", args.device], check=True, stdout=subprocess.DEVNULL)

        for name, got, ref in [("L", f"{d}/chol/y.npy", l.detach().numpy()), ("Σ̄", f"{d}/chol/grad_sigma.npy", st.grad.numpy()),
                               ("NLL", f"{d}/gp/nll.npy", nll.detach().numpy()), ("∂NLL/∂θ", f"{d}/gp/grad_theta.npy", th.grad.numpy())]:
            r = np.asarray(ref)
            e = float(np.max(np.abs(np.load(got).reshape(r.shape) - r)) / max(np.max(np.abs(r)), 1e-300))
            worst = max(worst, e)
            print(f"n = {n:4d}  {name:8s} max relative error {e:.2e}")
print(f"worst {worst:.2e} (tolerance {args.tolerance:.0e})")
sys.exit(0 if worst <= args.tolerance else 1)
