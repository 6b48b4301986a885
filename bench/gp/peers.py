#!/usr/bin/python3
"""GP NLL + gradient from X, side by side in one run: GpuAD (`gpuad gp nll --repeat`),
scikit-learn's log_marginal_likelihood(theta, eval_gradient=True) and the same model composed
in PyTorch on the CPU (cdist, cholesky, cholesky_solve, autograd). ARD Matern-5/2 with output
scale and white noise, float64. Run through bench/gp/run.sh, which builds the tool first.

usage: /usr/bin/python3 bench/gp/peers.py --tool PATH/GpuAD.Tool.dll --out DIR [--n 2048] [--d 8] [--repeat 5]

Prints and writes DIR/gp-bench.md: median wall times, the ratios, and the three implementations'
agreement (relative differences of the NLL and of the gradient).
"""
import argparse, os, platform, re, subprocess, statistics, sys, time, datetime

ap = argparse.ArgumentParser()
ap.add_argument("--tool", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--n", type=int, default=2048)
ap.add_argument("--d", type=int, default=8)
ap.add_argument("--repeat", type=int, default=5)
ap.add_argument("--threads", type=int, default=os.cpu_count())
args = ap.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np
import torch
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
import sklearn

torch.set_num_threads(args.threads)
os.makedirs(args.out, exist_ok=True)
rng = np.random.default_rng(2048)
n, d = args.n, args.d
X = rng.uniform(-1, 1, size=(n, d))
w = rng.normal(size=d)
y = np.sin(3 * X @ w / np.sqrt(d)) + 0.1 * rng.normal(size=n)
y = (y - y.mean()) / y.std()
lengthscales = np.linspace(0.5, 2.0, d)
theta = np.concatenate([[np.log(1.2)], np.log(lengthscales), [np.log(0.05)]])
np.save(os.path.join(args.out, "x.npy"), X)
np.save(os.path.join(args.out, "y.npy"), y)
np.save(os.path.join(args.out, "theta.npy"), theta)

def median_ms(f, repeat, warm_up=True):
    if warm_up:
        f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); f(); times.append(1e3 * (time.perf_counter() - t))
    return statistics.median(times)

# GpuAD
cmd = ["dotnet", args.tool, "gp", "nll", "--x", f"{args.out}/x.npy", "--y", f"{args.out}/y.npy", "--kernel", "matern52", "--ard",
       "--theta", f"{args.out}/theta.npy", "--out", f"{args.out}/gpuad", "--repeat", str(args.repeat), "--device", "cpu"]
run = subprocess.run(cmd, capture_output=True, text=True)
if run.returncode != 0:
    sys.exit(f"gpuad failed: {run.stderr}")
gpuad_ms = float(re.search(r"median ([\d.]+) ms", run.stdout).group(1))
device = re.search(r"device\s+(.*)", run.stdout)
g_nll = float(np.load(f"{args.out}/gpuad/nll.npy"))
g_grad = np.load(f"{args.out}/gpuad/grad_theta.npy")

# scikit-learn
kernel = ConstantKernel(1.2) * Matern(length_scale=lengthscales, nu=2.5) + WhiteKernel(0.05)
gpr = GaussianProcessRegressor(kernel=kernel, alpha=0.0, optimizer=None).fit(X, y)
s_out = {}
def sk():
    s_out["v"] = gpr.log_marginal_likelihood(theta, eval_gradient=True)
print(f"GpuAD: {gpuad_ms:.1f} ms", flush=True)
sk_runs = max(1, args.repeat // 5)
sk_ms = median_ms(sk, sk_runs, warm_up=False)  # no JIT to warm; one call costs seconds
print(f"scikit-learn: {sk_ms:.1f} ms", flush=True)
s_nll, s_grad = -s_out["v"][0], -s_out["v"][1]

# PyTorch, composed
Xt, yt = torch.tensor(X), torch.tensor(y)[:, None]
def torch_nll():
    th = torch.tensor(theta, requires_grad=True)
    s2, ls, noise = th[0].exp(), th[1:-1].exp(), th[-1].exp()
    r = torch.cdist(Xt / ls, Xt / ls)
    a = np.sqrt(5.0) * r
    K = s2 * (1 + a + a * a / 3) * torch.exp(-a) + noise * torch.eye(n, dtype=torch.float64)
    L = torch.linalg.cholesky(K)
    alpha = torch.cholesky_solve(yt, L)
    nll = 0.5 * (yt * alpha).sum() + L.diagonal().log().sum() + 0.5 * n * np.log(2 * np.pi)
    nll.backward()
    return nll.item(), th.grad.numpy().copy()
t_out = {}
def tt():
    t_out["v"] = torch_nll()
torch_ms = median_ms(tt, args.repeat)
t_nll, t_grad = t_out["v"]

def rel(a, b):
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))

stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
load = open("/proc/loadavg").read().split()[:3]
lines = [
    f"# GP NLL + gradient from X: GpuAD vs scikit-learn vs PyTorch (CPU), {stamp}",
    "",
    f"n = {n}, d = {d}, ARD Matérn-5/2 with output scale and white noise, float64; θ = (log s², log ℓ × {d}, log σ²).",
    f"Machine: {cpu}, {os.cpu_count()} cores, load average {' '.join(load)} at the end; {args.threads} BLAS/torch threads.",
    f"GpuAD: {device.group(1) if device else 'CPU accelerator'}; scikit-learn {sklearn.__version__}; PyTorch {torch.__version__}; numpy {np.__version__}.",
    f"Command: `bash bench/gp/run.sh` (= `/usr/bin/python3 bench/gp/peers.py --tool {os.path.basename(args.tool)} --out DIR --n {n} --d {d} --repeat {args.repeat}`).",
    "",
    "| implementation | median ms | GpuAD speed-up | NLL rel. diff vs scikit-learn | gradient rel. diff vs scikit-learn |",
    "|---|---:|---:|---:|---:|",
    f"| GpuAD (`gpuad gp nll --repeat {args.repeat}`) | {gpuad_ms:.1f} | 1.00 | {rel(g_nll, s_nll):.1e} | {rel(g_grad, s_grad):.1e} |",
    f"| scikit-learn `log_marginal_likelihood(θ, eval_gradient=True)` ({sk_runs} run{'s' if sk_runs > 1 else ''}) | {sk_ms:.1f} | {sk_ms / gpuad_ms:.2f} | 0 | 0 |",
    f"| PyTorch composed (cdist, cholesky, cholesky_solve, autograd) | {torch_ms:.1f} | {torch_ms / gpuad_ms:.2f} | {rel(t_nll, s_nll):.1e} | {rel(t_grad, s_grad):.1e} |",
    "",
    "Times are wall-clock medians of whole evaluations (value and gradient, to host memory), after a warm-up;",
    f"GpuAD's over {args.repeat} evaluations inside one process, after the one that compiled its kernels.",
]
text = "\n".join(lines) + "\n"
print(text)
open(os.path.join(args.out, "gp-bench.md"), "w").write(text)
