#!/usr/bin/python3
"""Golden data for GpuAD's tests, computed by PyTorch in float64 on the CPU.

Run from anywhere:   python3 tests/oracle/generate.py
                     python3 tests/oracle/generate.py --npy-only   (only tests/golden/npy/)
                     python3 tests/oracle/generate.py --elementwise-only   (only tests/golden/elementwise/)
Needs Debian's python3-torch (PyTorch 1.13) and python3-numpy: run it with Debian's
/usr/bin/python3 where another python3 comes first on PATH. The output is deterministic:
rerunning it rewrites tests/golden/ byte for byte (fixed seeds per case, one thread).

Each case folder tests/golden/<case>/ holds
  meta.json          {"op", "flags", "inputs" (call order), "spd" (symmetric positive-definite
                     inputs), "note"}
  in_<x>.npy         each input x
  y.npy              the output
  cotangent.npy      a random cotangent of y's shape
  grad_<x>.npy       the VJP for every input x
  tangent_<x>.npy    a random tangent for every input x (symmetric for SPD inputs; inside the
                     triangle the op reads for triangular inputs)
  ydot.npy           the JVP in the direction of the tangents
All arrays are float64 and 3-D [batch, rows, cols]; scalars per matrix are [batch, 1, 1] and
vectors [batch, n, 1].

Conventions (the library's): the gradient of an SPD input is symmetric (the gradient of the
function restricted to symmetric matrices, as torch.linalg.cholesky's backward returns); the
gradient of a triangular input is projected onto the triangle the op reads (strict triangle when
the diagonal is taken as 1); the triangle an op does not read holds junk in in_<x>.npy.

Every case is checked here before it is written: the JVP by forward-mode AD against the JVP by
double backward and against central differences, and the adjoint identity
<cotangent, ydot> = sum_x <grad_x, tangent_x>.

tests/golden/npy/ holds small files made by numpy for the .npy reader's tests: C and Fortran
order, .npz archives from numpy.savez and numpy.savez_compressed.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread: reductions always add in the same order

import json
import math
import pathlib
import shutil
import sys
import zlib

try:
    import numpy as np
    import torch
    import torch.autograd.forward_ad as fwAD
except ImportError as e:
    raise SystemExit(f"{e}: run with Debian's python3 (/usr/bin/python3) and python3-torch installed") from e

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden"
NPY_FIXTURES = GOLDEN / "npy"

written = []  # summary rows


# ----------------------------------------------------------------------------------------------
# random inputs

def rng_for(name):
    """A generator seeded from the case's name, so cases do not shift when others are added."""
    return torch.Generator().manual_seed(zlib.crc32(name.encode()))


def randn(g, *shape):
    return torch.randn(*shape, generator=g)


def uniform(g, lo, hi, *shape):
    return lo + (hi - lo) * torch.rand(*shape, generator=g)


def spd(g, batch, n):
    """A·Aᵀ/n + I: eigenvalues in [1, ~5], exactly symmetric."""
    a = randn(g, batch, n, n)
    return sym(a @ a.mT / n + torch.eye(n))


def general(g, batch, n):
    """P·D + R/(4√n): a random permutation with diagonal ±[1, 2] plus a small perturbation.
    Not symmetric, condition number below ~10, and the large entries sit off the diagonal, so
    partial pivoting has to permute rows."""
    out = torch.empty(batch, n, n)
    for i in range(batch):
        perm = torch.randperm(n, generator=g)
        d = uniform(g, 1, 2, n) * torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
        out[i] = torch.eye(n)[perm] * d[:, None] + randn(g, n, n) / (4 * math.sqrt(n))
    cond = torch.linalg.cond(out).max().item()
    assert cond < 20, f"general matrix too ill-conditioned: {cond}"
    return out


def triangular(g, batch, n, lower, unit):
    """The read triangle: diagonal ±[1, 2] (junk in [5, 9] when unit), off-diagonal U(-1,1)/√n.
    The unread triangle holds junk in ±[5, 9] so that reading it gives wrong answers."""
    sign = torch.where(torch.rand(batch, n, generator=g) < 0.5, -1.0, 1.0)
    diag = uniform(g, 1, 2, batch, n) * sign
    off = uniform(g, -1, 1, batch, n, n) / math.sqrt(n)
    junk = uniform(g, 5, 9, batch, n, n) * torch.where(torch.rand(batch, n, n, generator=g) < 0.5, -1.0, 1.0)
    read = torch.tril(off, -1) if lower else torch.triu(off, 1)
    unread = torch.triu(junk, 1) if lower else torch.tril(junk, -1)
    d = torch.diagonal(junk, dim1=-2, dim2=-1) if unit else diag
    return read + unread + torch.diag_embed(d)


def project_triangle(x, lower, unit):
    """The part of x an op reading one triangle sees (inside the autograd graph)."""
    if unit:
        strict = torch.tril(x, -1) if lower else torch.triu(x, 1)
        return strict + torch.eye(x.shape[-1])
    return torch.tril(x) if lower else torch.triu(x)


def sym(x):
    return 0.5 * (x + x.mT)


# ----------------------------------------------------------------------------------------------
# one case

def emit(name, op, flags, inputs, fn, g, spd_inputs=(), triangles=None, note="", forward_ad=True):
    """Computes y, the VJP and the JVP of fn at inputs, checks them and writes the case folder.

    inputs: dict name -> tensor, in call order. triangles: dict name -> (lower, unit) for inputs
    of which fn reads only a triangle (fn projects them itself). forward_ad=False takes the JVP by
    double backward alone, for an op whose forward-mode formula PyTorch 1.13 gets wrong (the
    central differences and the adjoint identity still check it)."""
    triangles = triangles or {}
    names = list(inputs)
    xs = [inputs[n].detach().clone() for n in names]
    for n, x in zip(names, xs):
        assert x.dim() == 3, f"{name}: input {n} is not 3-D"

    # VJP
    params = [x.clone().requires_grad_(True) for x in xs]
    y = fn(*params)
    assert y.dim() == 3, f"{name}: output is not 3-D"
    cot = randn(g, *y.shape)
    grads = torch.autograd.grad(y, params, cot, allow_unused=True)
    grads = [torch.zeros_like(x) if gr is None else gr for x, gr in zip(xs, grads)]
    y = y.detach()

    # tangents: symmetric for SPD inputs, inside the read triangle for triangular ones
    tangents = []
    for n, x in zip(names, xs):
        t = randn(g, *x.shape)
        if n in spd_inputs:
            t = sym(t)
        if n in triangles:
            lower, unit = triangles[n]
            t = (torch.tril(t, -1 if unit else 0)) if lower else torch.triu(t, 1 if unit else 0)
        tangents.append(t)
    for i, n in enumerate(names):
        if n in spd_inputs:
            grads[i] = sym(grads[i])  # the gradient restricted to symmetric matrices

    # JVP two ways
    _, ydot_bb = torch.autograd.functional.jvp(fn, tuple(xs), tuple(tangents))
    if forward_ad:
        with fwAD.dual_level():
            duals = [fwAD.make_dual(x, t) for x, t in zip(xs, tangents)]
            ydot = fwAD.unpack_dual(fn(*duals)).tangent
        ydot = torch.zeros_like(y) if ydot is None else ydot.detach()
    else:
        ydot = ydot_bb.detach()
    jvp_err = relerr(ydot, ydot_bb)
    assert jvp_err < 1e-12, f"{name}: forward-mode and double-backward JVPs differ: {jvp_err:.2e}"

    # central differences along the tangents
    h = 1e-5
    with torch.no_grad():
        plus = fn(*[x + h * t for x, t in zip(xs, tangents)])
        minus = fn(*[x - h * t for x, t in zip(xs, tangents)])
    fd_err = relerr(ydot, (plus - minus) / (2 * h))
    assert fd_err < 1e-6, f"{name}: JVP disagrees with central differences: {fd_err:.2e}"

    # adjoint identity
    lhs = (cot * ydot).sum().item()
    rhs = sum((gr * t).sum().item() for gr, t in zip(grads, tangents))
    adj_err = abs(lhs - rhs) / max(abs(lhs), abs(rhs), 1e-300)
    assert adj_err < 1e-10, f"{name}: adjoint identity fails: {lhs} vs {rhs}"

    for i, n in enumerate(names):
        assert grads[i].shape == xs[i].shape, f"{name}: grad_{n} has shape {tuple(grads[i].shape)}"

    folder = GOLDEN / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    meta = {"op": op, "flags": flags, "inputs": names, "spd": list(spd_inputs), "note": note}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    save(folder / "y.npy", y)
    save(folder / "cotangent.npy", cot)
    save(folder / "ydot.npy", ydot)
    for n, x, gr, t in zip(names, xs, grads, tangents):
        save(folder / f"in_{n}.npy", x)
        save(folder / f"grad_{n}.npy", gr)
        save(folder / f"tangent_{n}.npy", t)

    size = sum(f.stat().st_size for f in folder.iterdir())
    shapes = " ".join(f"{n}{list(x.shape)}" for n, x in zip(names, xs))
    written.append((name, op, json.dumps(flags, separators=(",", ":")) if flags else "", shapes,
                    str(list(y.shape)), fd_err, jvp_err, adj_err, size))


def relerr(expected, actual):
    num = (actual - expected).abs().max().item() if expected.numel() else 0.0
    den = expected.abs().max().item() if expected.numel() else 0.0
    return num / max(den, 1e-300)


def save(path, t):
    np.save(path, np.ascontiguousarray(t.detach().numpy(), dtype="<f8"))


# ----------------------------------------------------------------------------------------------
# the ops

def op_t(x, trans):
    return x.mT if trans else x


def matmul_cases():
    note = "Y = op(A)*op(B), op(X) = X^T when the flag is set. A batch of 1 broadcasts; its gradient sums over the batch."
    for ta in (False, True):
        for tb in (False, True):
            for batch, m, k, n in ((1, 1, 1, 1), (3, 5, 3, 7), (1, 6, 9, 4)):
                name = f"matmul-b{batch}-{m}x{k}x{n}{'-tA' if ta else ''}{'-tB' if tb else ''}"
                g = rng_for(name)
                a = randn(g, batch, *((k, m) if ta else (m, k)))
                b = randn(g, batch, *((n, k) if tb else (k, n)))
                emit(name, "matmul", {"transA": ta, "transB": tb}, {"a": a, "b": b},
                     lambda a, b, ta=ta, tb=tb: op_t(a, ta) @ op_t(b, tb), g, note=note)
    for (ba, bb, ta, tb) in ((1, 3, False, False), (1, 3, True, True), (3, 1, False, True)):
        m, k, n = 4, 5, 3
        name = f"matmul-broadcast-a{ba}-b{bb}{'-tA' if ta else ''}{'-tB' if tb else ''}"
        g = rng_for(name)
        a = randn(g, ba, *((k, m) if ta else (m, k)))
        b = randn(g, bb, *((n, k) if tb else (k, n)))
        emit(name, "matmul", {"transA": ta, "transB": tb}, {"a": a, "b": b},
             lambda a, b, ta=ta, tb=tb: op_t(a, ta) @ op_t(b, tb), g, note=note)


def axb_cases():
    for batch, p, m, n, q in ((1, 1, 1, 1, 1), (3, 4, 5, 3, 6), (1, 2, 7, 6, 3)):
        name = f"axb-b{batch}-{p}x{m}x{n}x{q}"
        g = rng_for(name)
        a, x, b = randn(g, batch, p, m), randn(g, batch, m, n), randn(g, batch, n, q)
        emit(name, "axb", {}, {"a": a, "x": x, "b": b}, lambda a, x, b: a @ x @ b, g,
             note="Y = A*X*B; A [b,p,m], X [b,m,n], B [b,n,q].")


def a_xinv_b_cases():
    for batch, p, n, q in ((1, 1, 1, 1), (3, 4, 5, 3), (1, 2, 9, 6), (3, 6, 8, 1)):
        name = f"a-xinv-b-b{batch}-{p}x{n}x{q}"
        g = rng_for(name)
        a, x, b = randn(g, batch, p, n), general(g, batch, n), randn(g, batch, n, q)
        emit(name, "a-xinv-b", {}, {"a": a, "x": x, "b": b},
             lambda a, x, b: a @ torch.linalg.solve(x, b), g,
             note="Y = A*inv(X)*B; X general square (not symmetric; partial pivoting permutes rows), A [b,p,n], B [b,n,q].")


def solve_cases():
    for batch, n, q in ((1, 1, 1), (3, 5, 3), (1, 9, 1), (1, 8, 11), (3, 13, 2)):
        name = f"solve-b{batch}-{n}x{q}"
        g = rng_for(name)
        x, b = general(g, batch, n), randn(g, batch, n, q)
        emit(name, "solve", {}, {"x": x, "b": b}, lambda x, b: torch.linalg.solve(x, b), g,
             note="Y = inv(X)*B; X general square, B [b,n,q].")


def cholesky_cases():
    for batch, n in ((1, 1), (3, 1), (3, 7), (1, 33), (3, 33), (1, 70)):
        name = f"cholesky-b{batch}-{n}"
        g = rng_for(name)
        emit(name, "cholesky", {}, {"sigma": spd(g, batch, n)}, lambda s: torch.linalg.cholesky(s), g,
             spd_inputs=("sigma",),
             note="L = cholesky(Sigma), lower. The cotangent is random in both triangles; L's upper triangle "
                  "is constant zero, so its cotangent there contributes nothing. grad_sigma is symmetric "
                  "(torch.linalg.cholesky's backward); tangent_sigma is symmetric.")


def triangular_solve_cases():
    for lower in (True, False):
        for left in (True, False):
            for transpose in (False, True):
                for unit in (False, True):
                    flags = {"lower": lower, "left": left, "transpose": transpose, "unitDiagonal": unit}
                    tag = (("lower" if lower else "upper") + ("-left" if left else "-right")
                           + ("-trans" if transpose else "") + ("-unit" if unit else ""))
                    for batch, n, k in ((1, 1, 1), (3, 6, 4), (1, 11, 3)):
                        name = f"triangular-solve-{tag}-b{batch}-{n}x{k}"
                        g = rng_for(name)
                        t = triangular(g, batch, n, lower, unit)
                        rhs = randn(g, batch, *((n, k) if left else (k, n)))

                        def fn(t, rhs, lower=lower, left=left, transpose=transpose, unit=unit):
                            a = project_triangle(t, lower, unit)
                            if transpose:
                                a = a.mT
                            return torch.linalg.solve_triangular(a, rhs, upper=(lower == transpose), left=left)

                        emit(name, "triangular-solve", flags, {"t": t, "rhs": rhs}, fn, g,
                             triangles={"t": (lower, unit)},
                             note="Solves op(T)*X = B (left) or X*op(T) = B (right), op(T) = T^T when transpose. "
                                  "Only the flagged triangle of T is read, the strict triangle when unitDiagonal "
                                  "(diagonal taken as 1); the rest of in_t is junk. grad_t and tangent_t lie in "
                                  "the triangle that is read.")


def cholesky_solve_cases():
    for batch, n, k in ((1, 1, 1), (3, 7, 3), (1, 12, 5), (3, 5, 1)):
        name = f"cholesky-solve-sigma-b{batch}-{n}x{k}"
        g = rng_for(name)
        emit(name, "cholesky-solve", {"factor": "sigma"}, {"sigma": spd(g, batch, n), "rhs": randn(g, batch, n, k)},
             lambda s, b: torch.cholesky_solve(b, torch.linalg.cholesky(s)), g, spd_inputs=("sigma",),
             note="Y = inv(Sigma)*B for SPD Sigma (factored by Cholesky); grad_sigma symmetric.")
    for batch, n, k in ((1, 1, 1), (3, 7, 3), (1, 12, 5), (3, 5, 1)):
        name = f"cholesky-solve-l-b{batch}-{n}x{k}"
        g = rng_for(name)
        l = torch.linalg.cholesky(spd(g, batch, n))
        junk = uniform(g, 5, 9, batch, n, n) * torch.where(torch.rand(batch, n, n, generator=g) < 0.5, -1.0, 1.0)
        l = l + torch.triu(junk, 1)
        emit(name, "cholesky-solve", {"factor": "l"}, {"l": l, "rhs": randn(g, batch, n, k)},
             lambda l, b: torch.cholesky_solve(b, torch.tril(l)), g, triangles={"l": (True, False)},
             note="Y = inv(L*L^T)*B with L lower (a Cholesky factor). Only the lower triangle of L is read; "
                  "the strict upper triangle of in_l is junk. grad_l and tangent_l are lower-triangular.")


def logdet_cases():
    for batch, n in ((1, 1), (3, 7), (1, 20), (3, 2)):
        name = f"logdet-b{batch}-{n}"
        g = rng_for(name)
        emit(name, "logdet", {}, {"sigma": spd(g, batch, n)}, lambda s: torch.logdet(s).reshape(-1, 1, 1), g,
             spd_inputs=("sigma",), note="log det Sigma for SPD Sigma, [batch, 1, 1]; grad_sigma = inv(Sigma), symmetric.")


def cholesky_inverse_cases():
    for batch, n in ((1, 1), (3, 6), (1, 19), (3, 2)):
        name = f"cholesky-inverse-b{batch}-{n}"
        g = rng_for(name)
        l = torch.linalg.cholesky(spd(g, batch, n))
        junk = uniform(g, 5, 9, batch, n, n) * torch.where(torch.rand(batch, n, n, generator=g) < 0.5, -1.0, 1.0)
        l = l + torch.triu(junk, 1)
        emit(name, "cholesky-inverse", {}, {"l": l}, lambda l: torch.cholesky_inverse(torch.tril(l)), g,
             triangles={"l": (True, False)}, forward_ad=False,
             note="S = inv(L*L^T) with L lower (torch.cholesky_inverse). Only the lower triangle of L is read; "
                  "the strict upper triangle of in_l is junk. grad_l is lower-triangular: torch.cholesky_inverse's "
                  "own backward returns -(S(G + G^T)S)L in both triangles, here projected by the tril in fn. "
                  "ydot by double backward: PyTorch 1.13's forward-mode formula for cholesky_inverse is wrong.")


def small_op_cases():
    rect = ((1, 1, 1), (3, 5, 3), (1, 4, 7))
    square = ((1, 1, 1), (3, 5, 5), (1, 8, 8))

    def each(op, shapes, n_inputs, fn, flags=None, suffix="", note=""):
        for batch, r, c in shapes:
            name = f"{op}{suffix}-b{batch}-{r}x{c}"
            g = rng_for(name)
            inputs = {k: randn(g, batch, r, c) for k in ("a", "b")[:n_inputs]}
            emit(name, op, flags or {}, inputs, fn, g, note=note)

    each("add", rect, 2, lambda a, b: a + b, note="Y = A + B.")
    each("subtract", rect, 2, lambda a, b: a - b, note="Y = A - B.")
    each("scale", rect, 1, lambda a: 0.75 * a, flags={"alpha": 0.75}, note="Y = alpha*A.")
    each("scale", ((3, 2, 3),), 1, lambda a: -2.5 * a, flags={"alpha": -2.5}, suffix="-neg", note="Y = alpha*A.")
    each("multiply", rect, 2, lambda a, b: a * b, note="Y = A .* B, elementwise.")
    each("transpose", rect, 1, lambda a: a.mT, note="Y = A^T per matrix, [b,c,r].")
    each("sum", rect, 1, lambda a: a.sum((-2, -1), keepdim=True), note="Sum of each matrix's entries, [batch, 1, 1].")
    each("trace", square, 1, lambda a: torch.diagonal(a, dim1=-2, dim2=-1).sum(-1).reshape(-1, 1, 1),
         note="Trace of each matrix, [batch, 1, 1].")
    each("dot", rect, 2, lambda a, b: (a * b).sum((-2, -1), keepdim=True),
         note="Frobenius product <A, B> = tr(A^T B) per matrix, [batch, 1, 1].")
    each("diag", square, 1, lambda a: torch.diagonal(a, dim1=-2, dim2=-1).unsqueeze(-1),
         note="The diagonal of each matrix as a column, [batch, n, 1].")
    each("tril", rect + ((1, 7, 4),), 1, lambda a: torch.tril(a, 0), flags={"k": 0},
         note="Lower triangle including the diagonal (k = 0), the rest zero.")
    each("tril", ((3, 5, 5), (1, 6, 4), (1, 3, 6)), 1, lambda a: torch.tril(a, -1), flags={"k": -1}, suffix="-k-1",
         note="Strict lower triangle (k = -1), the rest zero.")

    each("exp", rect, 1, torch.exp, note="Y = exp(A), elementwise.")
    for batch, r, c in rect:
        name = f"log-b{batch}-{r}x{c}"
        g = rng_for(name)
        emit(name, "log", {}, {"a": uniform(g, 0.5, 3.0, batch, r, c)}, torch.log, g,
             note="Y = log(A), elementwise; A in (0.5, 3).")
    for batch, r, c, sb in ((1, 1, 1, 1), (3, 5, 3, 3), (3, 4, 7, 1), (1, 2, 6, 1)):
        name = f"multiply-scalar-b{batch}-{r}x{c}-s{sb}"
        g = rng_for(name)
        emit(name, "multiply-scalar", {}, {"a": randn(g, batch, r, c), "s": randn(g, sb, 1, 1)}, lambda a, s: s * a, g,
             note="Y = s*A with a scalar s per matrix, [batch or 1, 1, 1] (broadcast: its gradient sums over the batch).")

    for batch, n, sb in ((1, 1, 1), (3, 5, 3), (3, 6, 1), (1, 8, 1)):
        name = f"add-diagonal-b{batch}-{n}x{n}-s{sb}"
        g = rng_for(name)
        emit(name, "add-diagonal", {}, {"a": randn(g, batch, n, n), "s": randn(g, sb, 1, 1)},
             lambda a, s, n=n: a + s * torch.eye(n, dtype=a.dtype), g,
             note="Y = A + s*I with a scalar s per matrix, [batch or 1, 1, 1] (broadcast: its gradient sums over the batch).")


def gp_nll_cases():
    for batch, n in ((1, 1), (3, 7), (1, 25), (3, 4)):
        name = f"gp-nll-b{batch}-{n}"
        g = rng_for(name)

        def fn(s, y, n=n):
            quad = y.mT @ torch.linalg.solve(s, y)
            return 0.5 * quad + 0.5 * torch.logdet(s).reshape(-1, 1, 1) + 0.5 * n * math.log(2 * math.pi)

        emit(name, "gp-nll", {}, {"sigma": spd(g, batch, n), "y": randn(g, batch, n, 1)}, fn, g,
             spd_inputs=("sigma",),
             note="Gaussian negative log-likelihood 1/2 y^T inv(Sigma) y + 1/2 log det Sigma + n/2 log(2 pi), "
                  "y [batch, n, 1], output [batch, 1, 1]; grad_sigma symmetric.")


# ----------------------------------------------------------------------------------------------
# elementwise ops for composing covariances, in tests/golden/elementwise/ (read by
# ElementwiseGoldenTests, not by the catalogue of tests/golden/*)

ELEMENTWISE = GOLDEN / "elementwise"


def away_from_zero(g, *shape, lo=0.25, hi=1.5):
    """Entries of either sign with |x| in [lo, hi]: no kink or pole within a difference step."""
    return uniform(g, lo, hi, *shape) * torch.where(torch.rand(*shape, generator=g) < 0.5, -1.0, 1.0)


def euclidean(x1, x2, w=None):
    """sqrt(sum_k (w_k (x1_ik - x2_jk))^2), formed from the differences (no cancellation)."""
    d = x1[:, :, None, :] - x2[:, None, :, :]
    if w is not None:
        d = d * w[:, :, None, :]
    return (d * d).sum(-1).sqrt()


def elementwise_cases():
    shapes = ((1, 1, 1), (3, 4, 3), (1, 5, 7))

    def case(op, tag, flags, inputs_fn, fn, note):
        for batch, r, c in shapes:
            name = f"elementwise/{op}{tag}-b{batch}-{r}x{c}"
            g = rng_for(name)
            emit(name, op, flags, inputs_fn(g, batch, r, c), fn, g, note=note)

    def one(make):
        return lambda g, b, r, c: {"a": make(g, b, r, c)}

    plain = one(lambda g, b, r, c: randn(g, b, r, c))
    positive = one(lambda g, b, r, c: uniform(g, 0.5, 2.0, b, r, c))
    nonzero = one(lambda g, b, r, c: away_from_zero(g, b, r, c))
    case("sin", "", {}, plain, torch.sin, "Y = sin(A).")
    case("cos", "", {}, plain, torch.cos, "Y = cos(A).")
    case("tanh", "", {}, plain, torch.tanh, "Y = tanh(A).")
    case("square", "", {}, plain, torch.square, "Y = A*A elementwise.")
    case("negate", "", {}, plain, torch.neg, "Y = -A.")
    case("sqrt", "", {}, positive, torch.sqrt, "Y = sqrt(A), A > 0 (the library takes the derivative at 0 as 0).")
    case("reciprocal", "", {}, nonzero, torch.reciprocal, "Y = 1/A, |A| >= 0.25.")
    case("abs", "", {}, nonzero, torch.abs, "Y = |A|, |A| >= 0.25 (derivative sign(A); 0 at 0 as PyTorch).")
    for p, tag in ((2.5, "-p2.5"), (-1.5, "-p-1.5"), (0.5, "-p0.5")):
        case("pow", tag, {"exponent": p, "form": "constant"}, positive, lambda a, p=p: a ** p,
             f"Y = A^p for the constant p = {p}, A > 0.")
    case("pow", "-p3-negative-base", {"exponent": 3.0, "form": "constant"}, nonzero, lambda a: a ** 3.0,
         "Y = A^3 (an integer exponent: negative bases allowed).")

    # binary ops: both operands matrices, or one a scalar per matrix on either side, batch 3 or
    # broadcast from 1 (its gradient summed over what it broadcast over)
    forms = (("mm", (3, 4, 3), (3, 4, 3)), ("ms", (3, 4, 3), (3, 1, 1)), ("sm", (3, 1, 1), (3, 4, 3)),
             ("ms1", (3, 4, 3), (1, 1, 1)), ("s1m", (1, 1, 1), (3, 4, 3)), ("m1s", (1, 5, 2), (3, 1, 1)),
             ("mm1", (3, 2, 5), (1, 2, 5)), ("mm-b1", (1, 6, 4), (1, 6, 4)), ("ss", (3, 1, 1), (1, 1, 1)))
    binary = (
        ("add", lambda a, b: a + b, randn, randn, "Y = A + B."),
        ("subtract", lambda a, b: a - b, randn, randn, "Y = A - B."),
        ("multiply", lambda a, b: a * b, randn, randn, "Y = A .* B."),
        ("divide", lambda a, b: a / b, randn, away_from_zero, "Y = A ./ B, |B| >= 0.25."),
        ("pow", lambda a, b: a ** b, lambda g, *s: uniform(g, 0.5, 2.0, *s), lambda g, *s: uniform(g, -1.5, 2.5, *s),
         "Y = A .^ E, A in [0.5, 2], E in [-1.5, 2.5]."),
    )
    for op, fn, make_a, make_b, what in binary:
        for form, sa, sb in forms:
            name = f"elementwise/{op}-{form}"
            g = rng_for(name)
            flags = {"form": "var"} if op == "pow" else {}
            emit(name, op, flags, {"a": make_a(g, *sa), "b": make_b(g, *sb)}, fn, g,
                 note=what + " A scalar per matrix [batch or 1, 1, 1] broadcasts over the other's matrices, a batch of 1 over the batch.")
    for batch, n, m, d, wshape in ((1, 1, 1, 1, None), (3, 5, 4, 2, None), (1, 6, 3, 3, (1, 1, 1)),
                                   (3, 4, 5, 3, (3, 1, 3)), (3, 4, 2, 2, (1, 1, 2))):
        name = f"elementwise/distances-b{batch}-{n}x{m}x{d}" + ("" if wshape is None else f"-w{wshape[0]}x{wshape[2]}")
        g = rng_for(name)
        inputs = {"x1": randn(g, batch, n, d), "x2": randn(g, batch, m, d)}
        if wshape is not None:
            inputs["w"] = uniform(g, 0.5, 2.0, *wshape)
        emit(name, "distances", {}, inputs, euclidean, g,
             note="R = sqrt(sum_k (w_k (X1_ik - X2_jk))^2), X1 [b,n,d], X2 [b,m,d], w [b or 1, 1, 1 or d]; "
                  "distinct points (the library takes the gradient at coincident points as 0).")

    # covariances composed from the ops, hyperparameters [1, 1, 1]
    for batch, n, m, d in ((1, 5, 4, 2), (3, 4, 3, 3)):
        name = f"elementwise/exp-sine-squared-b{batch}-{n}x{m}x{d}"
        g = rng_for(name)
        inputs = {"x1": randn(g, batch, n, d), "x2": randn(g, batch, m, d),
                  "l": uniform(g, 0.8, 1.5, 1, 1, 1), "p": uniform(g, 1.5, 3.0, 1, 1, 1)}
        emit(name, "exp-sine-squared", {}, inputs,
             lambda x1, x2, l, p: torch.exp(-2 * torch.sin(math.pi * euclidean(x1, x2) / p) ** 2 / l ** 2), g,
             note="k = exp(-2 sin^2(pi d / p) / l^2), d the Euclidean distances; l, p [1, 1, 1].")
        name = f"elementwise/rational-quadratic-b{batch}-{n}x{m}x{d}"
        g = rng_for(name)
        inputs = {"x1": randn(g, batch, n, d), "x2": randn(g, batch, m, d),
                  "l": uniform(g, 0.8, 1.5, 1, 1, 1), "alpha": uniform(g, 0.5, 2.0, 1, 1, 1)}
        emit(name, "rational-quadratic", {}, inputs,
             lambda x1, x2, l, alpha: (1 + euclidean(x1, x2) ** 2 / (2 * alpha * l ** 2)) ** (-alpha), g,
             note="k = (1 + d^2 / (2 alpha l^2))^(-alpha), d the Euclidean distances; l, alpha [1, 1, 1].")


# ----------------------------------------------------------------------------------------------
# numpy-made .npy fixtures for the reader's tests

def npy_fixtures():
    if NPY_FIXTURES.exists():
        shutil.rmtree(NPY_FIXTURES)
    NPY_FIXTURES.mkdir(parents=True)
    f8_3d = (np.arange(24, dtype="<f8").reshape(2, 3, 4) - 11.5) / 4

    def save_version(name, arr, version):
        with open(NPY_FIXTURES / name, "wb") as f:
            np.lib.format.write_array(f, arr, version=version)

    np.save(NPY_FIXTURES / "f8_3d.npy", f8_3d)
    np.save(NPY_FIXTURES / "f4_2d.npy", ((np.arange(15).reshape(3, 5) - 7) / 8).astype("<f4"))
    np.save(NPY_FIXTURES / "i4_1d.npy", (np.arange(7) * -3 + 5).astype("<i4"))
    np.save(NPY_FIXTURES / "i8_2d.npy", (np.arange(6).reshape(2, 3) * 3_000_000_000 - 7).astype("<i8"))
    np.save(NPY_FIXTURES / "f8_0d.npy", np.array(2.5, dtype="<f8"))
    np.save(NPY_FIXTURES / "f8_1d.npy", np.arange(5, dtype="<f8") + 0.25)
    np.save(NPY_FIXTURES / "f8_empty.npy", np.zeros((0, 3), dtype="<f8"))
    np.save(NPY_FIXTURES / "f8_special.npy",
            np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, np.finfo(np.float64).max, 1 / 3], dtype="<f8"))
    np.save(NPY_FIXTURES / "f8_4d.npy", np.arange(12, dtype="<f8").reshape(2, 1, 2, 3))
    # first axes of two and three digits: numpy's header padding depends on their width
    np.save(NPY_FIXTURES / "f8_12x2.npy", np.arange(24, dtype="<f8").reshape(12, 2) * 0.5)
    np.save(NPY_FIXTURES / "i4_105.npy", (np.arange(105) * 7 - 300).astype("<i4"))
    # sixteen axes: the room numpy leaves for the first axis to grow pushes the header to 192 bytes
    np.save(NPY_FIXTURES / "f8_16d.npy", np.full((1,) * 16, -1.5, dtype="<f8"))
    save_version("f8_v2.npy", f8_3d, (2, 0))
    save_version("f8_v3.npy", f8_3d, (3, 0))
    # unsupported: big-endian, complex, bytes
    np.save(NPY_FIXTURES / "f8_big_endian.npy", f8_3d.astype(">f8"))
    np.save(NPY_FIXTURES / "c16.npy", np.arange(4, dtype="<c16"))
    np.save(NPY_FIXTURES / "u1.npy", np.arange(4, dtype="|u1"))
    # Fortran (column-major) order, read and converted to C order: what np.save writes for a
    # transposed or column-major array
    np.save(NPY_FIXTURES / "f8_fortran.npy", np.asfortranarray(np.arange(12, dtype="<f8").reshape(3, 4)))
    np.save(NPY_FIXTURES / "f8_fortran_3d.npy", np.asfortranarray(f8_3d))
    np.save(NPY_FIXTURES / "f4_transposed.npy", ((np.arange(15).reshape(5, 3) - 7) / 8).astype("<f4").T)
    for name in ("f8_fortran.npy", "f8_fortran_3d.npy", "f4_transposed.npy"):
        assert np.lib.format.read_array_header_1_0(open_after_magic(NPY_FIXTURES / name))[1], name
    # a PyTorch golden case's input and cotangent in Fortran order, for the tool's vjp
    case = GOLDEN / "cholesky-b3-7"
    np.save(NPY_FIXTURES / "cholesky-b3-7_sigma_fortran.npy", np.asfortranarray(np.load(case / "in_sigma.npy")))
    np.save(NPY_FIXTURES / "cholesky-b3-7_cotangent_fortran.npy", np.asfortranarray(np.load(case / "cotangent.npy")))
    # archives: unnamed (arr_0) and named members, one of them in Fortran order
    members = dict(sigma=f8_3d, ints=(np.arange(6).reshape(2, 3) - 2).astype("<i8"),
                   fortran=np.asfortranarray(f8_3d[0]))
    # (numpy stamps archive members with a fixed date, so the archives too are reproducible)
    np.savez(NPY_FIXTURES / "savez.npz", np.arange(5, dtype="<f4"), **members)
    np.savez_compressed(NPY_FIXTURES / "savez_compressed.npz", np.arange(5, dtype="<f4"), **members)
    for name in ("savez.npz", "savez_compressed.npz"):
        with np.load(NPY_FIXTURES / name) as z:
            assert list(z.keys()) == ["sigma", "ints", "fortran", "arr_0"], list(z.keys())
    for f in sorted(NPY_FIXTURES.glob("*.npy")):
        assert np.lib.format.read_magic(open(f, "rb")) in ((1, 0), (2, 0), (3, 0))
    return sorted(f.name for f in NPY_FIXTURES.iterdir())


def open_after_magic(path):
    f = open(path, "rb")
    np.lib.format.read_magic(f)
    return f


# ----------------------------------------------------------------------------------------------

def main():
    if sys.argv[1:] == ["--npy-only"]:
        print(f"{len(npy_fixtures())} npy fixtures in {NPY_FIXTURES}")
        return
    if sys.argv[1:] == ["--elementwise-only"]:
        elementwise_cases()
        remove_stale_elementwise()
        print_summary(0)
        return
    GOLDEN.mkdir(parents=True, exist_ok=True)
    matmul_cases()
    axb_cases()
    a_xinv_b_cases()
    solve_cases()
    cholesky_cases()
    triangular_solve_cases()
    cholesky_solve_cases()
    logdet_cases()
    cholesky_inverse_cases()
    small_op_cases()
    gp_nll_cases()
    elementwise_cases()
    fixtures = npy_fixtures()

    # remove case folders of earlier runs that this run no longer makes
    names = {row[0] for row in written}
    assert len(names) == len(written), "duplicate case names"
    for folder in sorted(GOLDEN.iterdir()):
        if folder.is_dir() and (folder / "meta.json").exists() and folder.name not in names:
            shutil.rmtree(folder)
    remove_stale_elementwise()
    print_summary(len(fixtures))


def remove_stale_elementwise():
    names = {row[0] for row in written}
    for folder in sorted(ELEMENTWISE.iterdir()):
        if folder.is_dir() and f"elementwise/{folder.name}" not in names:
            shutil.rmtree(folder)


def print_summary(fixtures):
    header = ("case", "op", "flags", "inputs", "y", "fd err", "jvp err", "adjoint err", "bytes")
    rows = [header] + [(r[0], r[1], r[2], r[3], r[4], f"{r[5]:.1e}", f"{r[6]:.1e}", f"{r[7]:.1e}", str(r[8]))
                       for r in written]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    total = sum(f.stat().st_size for f in GOLDEN.rglob("*") if f.is_file())
    print(f"\n{len(written)} cases, {fixtures} npy fixtures, {total / 1e6:.2f} MB in {GOLDEN}")
    print("worst: fd err %.1e, jvp err %.1e, adjoint err %.1e" % (
        max(r[5] for r in written), max(r[6] for r in written), max(r[7] for r in written)))


if __name__ == "__main__":
    main()
