#!/usr/bin/env python3
"""The PyTorch reference of GpuAD's benchmark engine: the suites (bench/suites.json) and `gpuad bench`.

Times, on CUDA when available (else the CPU), exactly the problems GpuAD's engine times
(src/Host/Benchmarking):

  gemm              C = A @ B                      (TF32 off: full fp32 products)
  trsm              torch.linalg.solve_triangular(L, B, upper=False), n right-hand sides
  potrf             torch.linalg.cholesky_ex(A)    (info stays on the device, as in GpuAD's Potrf)
  cholesky          L = torch.linalg.cholesky(A); L.backward(Lbar)
                    (cholesky checks info on the host, as GpuAD's Op.Cholesky does)
  matmul, axb, triangular-solve, a-xinv-b, logdet, cholesky-solve
                    forward, then backward with a random cotangent (every input's gradient)
  gp-nll            GPyTorch: -ExactMarginalLogLikelihood of an exact GP (ScaleKernel(RBFKernel), zero
                    mean, GaussianLikelihood) with Cholesky forced (max_cholesky_size), then backward
                    to the hyperparameters; batch 1

with the same input kinds (HostData.cs: uniform(-1, 1); SPD: symmetric uniform(-1, 1) off the
diagonal, n on it; lower triangles: diagonal in [1, 2], strict lower part uniform(-1/n, 1/n);
invertible: 2I + E/sqrt(n)). Each phase is synchronized; the result is the median of the runs
after warm-up, with the same repetitions and time caps as GpuAD gets. For the ops with a backward
pass the peak of torch.cuda.max_memory_allocated during forward + backward is recorded (inputs
included, as in GpuAD's pool peak). No GFLOP/s here: rates use GpuAD's executed count of a problem.

    python3 bench/torch_ref.py --out DIR [--suite gpu|cpu] [--quick] [--device auto|cuda|cpu] [--threads N]
    python3 bench/torch_ref.py --cases matmul/fp64/1x256,cholesky/fp64/1x256 --reps 5 --stdout

Writes DIR/torch.json (the same layout as GpuAD's gpuad.json), or prints it (--stdout).
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import torch

SUITES = Path(__file__).resolve().parent / "suites.json"
KERNEL_LOAD_SIZE = (2, 130)  # batch, n: first use of an op and dtype loads its libraries and handles


GRAPH_OPS = {  # op: (input kinds, function), as src/Host/Benchmarking/Workloads.cs (GraphWorkload)
    "matmul": (["uniform", "uniform"], lambda a, b: a @ b),
    "axb": (["uniform", "uniform", "uniform"], lambda a, x, b: a @ x @ b),
    "triangular-solve": (["lower", "uniform"], lambda t, b: torch.linalg.solve_triangular(t, b, upper=False)),
    "a-xinv-b": (["uniform", "invertible", "uniform"], lambda a, x, b: a @ torch.linalg.solve(x, b)),
    # log det through Cholesky, as GpuAD computes it
    "logdet": (["spd"], lambda s: 2 * torch.log(torch.diagonal(torch.linalg.cholesky(s), dim1=-2, dim2=-1)).sum(-1)),
    "cholesky-solve": (["spd", "uniform"], lambda s, b: torch.cholesky_solve(b, torch.linalg.cholesky(s))),
}
OPS = ("gemm", "trsm", "potrf", "cholesky", "gp-nll") + tuple(GRAPH_OPS)


class GpModel:
    """GPyTorch's exact GP (zero mean, ScaleKernel(RBFKernel)), GaussianLikelihood, ExactMarginalLogLikelihood,
    at the hyperparameters GpuAD's gp-nll starts from: lengthscale 1, outputscale 1, noise 0.01."""

    def __init__(self, x, y):
        import gpytorch  # only this op needs it

        class Exact(gpytorch.models.ExactGP):
            def __init__(self, x, y, likelihood):
                super().__init__(x, y, likelihood)
                self.mean_module = gpytorch.means.ZeroMean()
                self.covar_module = gpytorch.kernels.ScaleKernel(gpytorch.kernels.RBFKernel())

            def forward(self, x):
                return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))

        self.gpytorch = gpytorch
        self.likelihood = gpytorch.likelihoods.GaussianLikelihood().to(x)
        self.model = Exact(x, y, self.likelihood).to(x)
        self.model.covar_module.base_kernel.lengthscale = 1.0
        self.model.covar_module.outputscale = 1.0
        self.likelihood.noise = 0.01
        self.model.train()
        self.likelihood.train()
        self.mll = gpytorch.mlls.ExactMarginalLogLikelihood(self.likelihood, self.model)
        self.x, self.y = x, y

    def loss(self):
        # Cholesky forced: GPyTorch uses iterative solvers above max_cholesky_size (800 by default).
        with self.gpytorch.settings.max_cholesky_size(10 ** 9):
            return -self.mll(self.model(self.x), self.y)

    def params(self):
        return list(self.model.parameters())


def parse_case(case_id):
    op, dtype, size = case_id.split("/")
    batch, n = (int(x) for x in size.split("x"))
    if op not in OPS or dtype not in ("fp32", "fp64"):
        raise ValueError(f"case '{case_id}' is not op/dtype/BATCHxN")
    return op, dtype, batch, n


class Workload:
    """Inputs of one case on the device; run(laps) times the phases of one synchronized run."""

    def __init__(self, op, dtype, batch, n, device, seed=1):
        self.op, self.batch, self.n, self.device = op, batch, n, device
        self.dtype = torch.float32 if dtype == "fp32" else torch.float64
        self.phases = ["forward", "backward"] if op in ("cholesky", "gp-nll") or op in GRAPH_OPS else ["op"]
        self.peak_bytes = None
        gen = torch.Generator(device=device)
        gen.manual_seed(seed)
        shape = (n, n) if batch == 1 else (batch, n, n)
        uniform = lambda: torch.rand(shape, generator=gen, device=device, dtype=self.dtype) * 2 - 1
        eye = torch.eye(n, device=device, dtype=self.dtype)

        def make(kind):
            if kind == "uniform":
                return uniform()
            if kind == "lower":
                diag = torch.rand(shape[:-1], generator=gen, device=device, dtype=self.dtype) + 1
                return torch.tril(uniform(), -1) / n + torch.diag_embed(diag)
            if kind == "invertible":
                return 2 * eye + uniform() / n ** 0.5
            off = torch.tril(uniform(), -1)
            return off + off.transpose(-2, -1) + n * eye

        if op == "gp-nll":
            if batch != 1:
                raise RuntimeError("gp-nll: GPyTorch's reference takes batch 1")
            x = torch.rand(n, 1, generator=gen, device=device, dtype=self.dtype) * 10
            y = torch.sin(x[:, 0]) + 0.1 * torch.randn(n, generator=gen, device=device, dtype=self.dtype)
            self.gp = GpModel(x, y)
        elif op in GRAPH_OPS:
            kinds, self.f = GRAPH_OPS[op]
            self.inputs = [make(k).requires_grad_(True) for k in kinds]
            with torch.no_grad():
                self.ybar = torch.rand(self.f(*self.inputs).shape, generator=gen, device=device, dtype=self.dtype) * 2 - 1
        elif op == "gemm":
            self.a, self.b = uniform(), uniform()
            self.c = torch.empty_like(self.a)
        elif op == "trsm":
            diag = torch.rand(shape[:-1], generator=gen, device=device, dtype=self.dtype) + 1
            self.l = torch.tril(uniform(), -1) / n + torch.diag_embed(diag)
            self.b = uniform()
        else:
            off = torch.tril(uniform(), -1)
            self.a = off + off.transpose(-2, -1) + n * eye
            if op == "cholesky":
                self.a.requires_grad_(True)
                self.lbar = uniform()

    def validate(self):
        """Raises when the last run's result would make its timing meaningless."""
        if self.op == "potrf" and int(torch.linalg.cholesky_ex(self.a).info.abs().sum()) != 0:
            raise RuntimeError("cholesky_ex reported a failure on an SPD input")
        if self.op == "cholesky" and not bool(torch.isfinite(self.a.grad).all()):
            raise RuntimeError("the gradient is not finite")
        if self.op == "gp-nll" and not all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in self.gp.params()):
            raise RuntimeError("the hyperparameters' gradient is not finite")
        if self.op in GRAPH_OPS and not all(bool(torch.isfinite(x.grad).all()) for x in self.inputs):
            raise RuntimeError("a gradient is not finite")

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self):
        """One run; returns the seconds of each phase."""
        cuda = self.device.type == "cuda"
        if self.op == "gp-nll":
            for p in self.gp.params():
                p.grad = None
            if cuda:
                torch.cuda.reset_peak_memory_stats(self.device)
            t0 = time.perf_counter()
            loss = self.gp.loss()
            self.sync()
            t1 = time.perf_counter()
            loss.backward()
            self.sync()
            t2 = time.perf_counter()
            if cuda:
                self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
            del loss
            return [t1 - t0, t2 - t1]
        if self.op in GRAPH_OPS:
            for x in self.inputs:
                x.grad = None
            if cuda:
                torch.cuda.reset_peak_memory_stats(self.device)
            t0 = time.perf_counter()
            y = self.f(*self.inputs)
            self.sync()
            t1 = time.perf_counter()
            y.backward(self.ybar)
            self.sync()
            t2 = time.perf_counter()
            if cuda:
                self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
            del y
            return [t1 - t0, t2 - t1]
        if self.op == "cholesky":
            self.a.grad = None
            if cuda:
                torch.cuda.reset_peak_memory_stats(self.device)
            t0 = time.perf_counter()
            l = torch.linalg.cholesky(self.a)
            self.sync()
            t1 = time.perf_counter()
            l.backward(self.lbar)
            self.sync()
            t2 = time.perf_counter()
            if cuda:
                self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
            del l
            return [t1 - t0, t2 - t1]
        t0 = time.perf_counter()
        if self.op == "gemm":
            torch.matmul(self.a, self.b, out=self.c)
        elif self.op == "trsm":
            torch.linalg.solve_triangular(self.l, self.b, upper=False, left=True)
        else:
            torch.linalg.cholesky_ex(self.a)
        self.sync()
        return [time.perf_counter() - t0]


def measure(case_id, suite, cap_s, device, loaded):
    op, dtype, batch, n = parse_case(case_id)
    base = {"id": case_id, "op": op, "dtype": dtype, "batch": batch, "n": n}
    started = time.perf_counter()
    try:
        if (op, dtype) not in loaded:
            loaded.add((op, dtype))
            Workload(op, dtype, 1 if op == "gp-nll" else KERNEL_LOAD_SIZE[0], min(n, KERNEL_LOAD_SIZE[1]), device).run()
        work = Workload(op, dtype, batch, n, device)
        work.sync()
        setup_s = time.perf_counter() - started
        started = time.perf_counter()
        samples = []
        for _ in range(max(1, suite["warmup"])):
            last = work.run()
            if time.perf_counter() - started > cap_s:
                samples.append(last)  # one run outlasts the cap: it is the one sample
                break
        work.validate()
        warmup_ms = sum(last) * 1e3
        capped = bool(samples)
        r = 0
        while r < suite["reps"] and not capped:
            samples.append(work.run())
            r += 1
            capped = r < suite["reps"] and time.perf_counter() - started + sum(samples[-1]) > cap_s
        totals = [sum(s) for s in samples]
        median = statistics.median(totals)
        result = dict(base,
                      status="capped" if capped else "ok",
                      reps=len(samples),
                      median_ms=round(median * 1e3, 4),
                      min_ms=round(min(totals) * 1e3, 4),
                      phases={name: {"median_ms": round(statistics.median(s[i] for s in samples) * 1e3, 4),
                                     "min_ms": round(min(s[i] for s in samples) * 1e3, 4)}
                              for i, name in enumerate(work.phases)},
                      setup_s=round(setup_s, 2),
                      warmup_ms=round(warmup_ms, 4))
        if capped:
            result["note"] = f"{len(samples)} of {suite['reps']} reps: case cap {cap_s:.0f} s"
        if work.peak_bytes is not None:
            result["peak_bytes"] = work.peak_bytes
        del work
        return result
    except (RuntimeError, MemoryError, ImportError) as e:  # CUDA out of memory is a RuntimeError
        return dict(base, status="failed", note=f"{type(e).__name__}: {str(e).splitlines()[0]}")
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()


def disable_tf32():
    """Full fp32 matrix products (no TF32). PyTorch 2.9 and later replace allow_tf32 by
    fp32_precision and raise when the two are mixed, so only the API the version has is used."""
    matmul = torch.backends.cuda.matmul
    try:
        matmul.fp32_precision = "ieee"
        return "off (torch.backends.cuda.matmul.fp32_precision = 'ieee')"
    except (AssertionError, AttributeError):  # before 2.9: unknown attribute
        pass
    matmul.allow_tf32 = False
    return "off (torch.backends.cuda.matmul.allow_tf32 = False)"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="folder for torch.json")
    ap.add_argument("--stdout", action="store_true", help="print the report's JSON on stdout instead (progress on stderr)")
    ap.add_argument("--cases", help="comma-separated case ids op/dtype/BATCHxN instead of a suite's")
    ap.add_argument("--suite", default="gpu", help="suite of bench/suites.json (default gpu)")
    ap.add_argument("--quick", action="store_true", help="the suite's -quick variant (tiny sizes)")
    ap.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (CPU)")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--case-cap-s", type=float)
    ap.add_argument("--budget-s", type=float)
    ap.add_argument("--filter", help="only cases whose id contains this text")
    ap.add_argument("--suites", default=str(SUITES))
    args = ap.parse_args()

    if not args.out and not args.stdout:
        ap.error("give --out DIR or --stdout")
    log = sys.stderr if args.stdout else sys.stdout
    if args.cases:
        name = "cases"
        suite = {"warmup": 1, "reps": 5, "case_cap_s": 1e9, "budget_s": 1e9, "cases": args.cases.split(",")}
    else:
        name = args.suite + ("-quick" if args.quick else "")
        with open(args.suites) as f:
            suite = json.load(f)["suites"][name]
    for key in ("reps", "warmup", "case_cap_s", "budget_s"):
        if getattr(args, key) is not None:
            suite[key] = getattr(args, key)
    # GpuAD-only variants (cholesky-composed, -blocked, -whole, the forced designs) have no PyTorch counterpart of their own.
    gpuad_only = ("cholesky-composed", "cholesky-blocked", "cholesky-whole", "cholesky-one-level", "cholesky-two-level", "cholesky-two-streams",
                  "cholesky-dataflow", "cholesky-left-looking", "cholesky-reverse-by-inverse")
    cases = [c for c in suite["cases"] if (args.filter is None or args.filter.lower() in c.lower())
             and c.split("/")[0] not in gpuad_only]

    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    tf32 = disable_tf32()

    clock = time.perf_counter()
    if device.type == "cuda":
        torch.zeros(1, device=device)
        torch.cuda.synchronize(device)
        props = torch.cuda.get_device_properties(device)
        dev = {"name": props.name, "kind": "Cuda", "memory_bytes": props.total_memory,
               "cuda": torch.version.cuda, "compute_capability": f"{props.major}.{props.minor}"}
    else:
        blas = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
        blas = blas.group(1) if blas else "unknown"
        dev = {"name": f"CPU ({cpu_model()})", "kind": "Cpu", "threads": torch.get_num_threads(), "blas": blas}
    print(f"PyTorch {torch.__version__} {name}: {len(cases)} cases on {dev['name']}; "
          f"{suite['reps']} reps, cap {suite['case_cap_s']} s per case, budget {suite['budget_s']} s", file=log, flush=True)

    loaded, results = set(), []
    for case_id in cases:
        remaining = suite["budget_s"] - (time.perf_counter() - clock)
        if remaining <= 0:
            op, dtype, batch, n = parse_case(case_id)
            r = {"id": case_id, "op": op, "dtype": dtype, "batch": batch, "n": n, "status": "skipped",
                 "note": f"suite budget of {suite['budget_s']} s spent"}
        else:
            r = measure(case_id, suite, min(suite["case_cap_s"], remaining), device, loaded)
        results.append(r)
        if r["status"] in ("ok", "capped"):
            print(f"  {case_id:<32} {r['median_ms']:10.3f} ms  reps {r['reps']}"
                  + (f"  ({r['note']})" if "note" in r else ""), file=log, flush=True)
        else:
            print(f"  {case_id:<32} {r['status']}: {r['note']}", file=log, flush=True)

    report = {
        "tool": "PyTorch",
        "torch": torch.__version__,
        "suite": name,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
        "device": dev,
        "host": {"cpu": cpu_model(), "processors": os.cpu_count(), "os": platform.platform(),
                 "python": platform.python_version()},
        "settings": {"warmup": suite["warmup"], "reps": suite["reps"], "case_cap_s": suite["case_cap_s"],
                     "budget_s": suite["budget_s"], "tf32": tf32},
        "wall_seconds": round(time.perf_counter() - clock, 1),
        "cases": results,
    }
    if args.stdout:
        json.dump(report, sys.stdout)
        print(flush=True)
    else:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "torch.json")
        with open(path, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {path} ({report['wall_seconds']:.0f} s)", flush=True)
    return 1 if any(r["status"] == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
