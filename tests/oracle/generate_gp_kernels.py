#!/usr/bin/python3
"""Golden data for GpuAD's composable GP kernels, computed by scikit-learn 1.2 in float64.

Run from anywhere:   /usr/bin/python3 tests/oracle/generate_gp_kernels.py
Needs Debian's python3-sklearn (1.2) and python3-statsmodels. Deterministic: rerunning rewrites
tests/golden/gp-kernels/ byte for byte.

Each case is a kernel expression that is both Python (evaluated here with scikit-learn's kernel
classes in scope) and GpuAD's kernel syntax (Kernel.Parse reads the same text), so both sides build
the same kernel, fixed hyperparameters and bounds included. Every case uses
GaussianProcessRegressor(alpha=0, normalize_y=False): the noise is the kernel's WhiteKernel and K
gets no extra diagonal, so the likelihood is that of K = kernel(X) exactly.

Data: the monthly means of the Mauna Loa CO2 record (statsmodels.datasets.co2 resampled to month
starts, x = year + month/12 as in scikit-learn's gallery example, y centred), a weekly window of
the same record (a seasonal series), scikit-learn's diabetes set, and small seeded random sets.

Each case folder gp-kernels/<case>/ holds
  expression.txt     the kernel as built (Python and GpuAD syntax)
  repr.txt           repr(kernel) (what print(kernel) shows)
  x.npy [n, d], y.npy [n]
  theta.npy [p]      kernel.theta
  bounds.npy [p, 2]  kernel.bounds (log)
  nll.npy [1], grad.npy [p]: -log_marginal_likelihood(theta, eval_gradient=True)
  k.npy [r, r]       the training covariance kernel(X), its leading r = min(n, 60) rows and columns
  xstar.npy [m, d], mean.npy [m], std.npy [m]: predict(xstar, return_std=True) (std includes the
                     WhiteKernel's noise, as scikit-learn's kernel.diag does)
  fit_theta.npy [p], fit_nll.npy [1]: scikit-learn's own fit (L-BFGS-B, no restarts) from theta,
                     and fit_repr.txt: repr of the fitted kernel
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (RBF, ConstantKernel, DotProduct, ExpSineSquared, Matern,
                                              RationalQuadratic, WhiteKernel)
import statsmodels.datasets.co2 as co2

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "gp-kernels")
KERNELS = {"RBF": RBF, "ConstantKernel": ConstantKernel, "DotProduct": DotProduct, "ExpSineSquared": ExpSineSquared,
           "Matern": Matern, "RationalQuadratic": RationalQuadratic, "WhiteKernel": WhiteKernel}
K_BLOCK = 60

# The gallery's CO2 model at the hyperparameters its fit reports (periodicity fixed at one year).
CO2_MODEL = ("66**2 * RBF(length_scale=67) "
             "+ 2.4**2 * RBF(length_scale=90) * ExpSineSquared(length_scale=1.3, periodicity=1, periodicity_bounds=\"fixed\") "
             "+ 0.66**2 * RationalQuadratic(alpha=0.78, length_scale=1.2) "
             "+ 0.18**2 * RBF(length_scale=0.134) + WhiteKernel(noise_level=0.0361)")


def standardize(y):
    return (y - y.mean()) / y.std()


def co2_monthly():
    frame = co2.load_pandas().data.resample("MS").mean().dropna()
    x = (frame.index.year + frame.index.month / 12).to_numpy(dtype=np.float64)[:, None]
    y = frame["co2"].to_numpy(dtype=np.float64)
    return x, y - y.mean()


def co2_weekly(start, n):
    frame = co2.load_pandas().data.dropna()
    years = np.array([t.year + (t.dayofyear - 1) / (366 if t.is_leap_year else 365) for t in frame.index])
    ppm = frame["co2"].to_numpy()
    return years[start:start + n, None].astype(np.float64), ppm[start:start + n].astype(np.float64)


def diabetes(n, d):
    data = load_diabetes()
    return data.data[:n, :d].astype(np.float64), standardize(data.target[:n].astype(np.float64))


def write(case, expression, x, y, xstar, fit=True):
    kernel = eval(expression, {"__builtins__": {}}, KERNELS)
    gpr = GaussianProcessRegressor(kernel=kernel, alpha=0.0, optimizer=None, normalize_y=False).fit(x, y)
    theta = gpr.kernel_.theta.copy()
    lml, grad = gpr.log_marginal_likelihood(theta, eval_gradient=True)
    k = gpr.kernel_(x)
    mean, std = gpr.predict(xstar, return_std=True)
    folder = os.path.join(ROOT, case)
    os.makedirs(folder, exist_ok=True)
    arrays = [("x", x), ("y", y), ("theta", theta), ("bounds", kernel.bounds.reshape(-1, 2)), ("nll", np.array([-lml])),
              ("grad", -grad), ("k", k[:K_BLOCK, :K_BLOCK]), ("xstar", xstar), ("mean", mean), ("std", std)]
    texts = [("expression", expression), ("repr", repr(kernel))]
    if fit:
        fitted = GaussianProcessRegressor(kernel=kernel, alpha=0.0, normalize_y=False, n_restarts_optimizer=0).fit(x, y)
        arrays += [("fit_theta", fitted.kernel_.theta), ("fit_nll", np.array([-fitted.log_marginal_likelihood_value_]))]
        texts.append(("fit_repr", repr(fitted.kernel_)))
    for name, arr in arrays:
        np.save(os.path.join(folder, name + ".npy"), np.ascontiguousarray(arr, dtype=np.float64))
    for name, text in texts:
        with open(os.path.join(folder, name + ".txt"), "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(f"{case}: n {x.shape[0]}, d {x.shape[1]}, p {theta.size}, nll {-lml:.12g}")


def main():
    # (1) scikit-learn's Mauna Loa CO2 model on the monthly means, predictions two years ahead.
    xc, yc = co2_monthly()
    xsc = xc[-1, 0] + np.arange(1, 25, dtype=np.float64)[:, None] / 12
    write("co2-mauna-loa", CO2_MODEL, xc, yc, xsc)

    # (2) a periodic x RBF (a decaying seasonal pattern) on three years of the weekly record.
    xw, yw = co2_weekly(600, 160)
    xw, yw, xsw = xw[::2], standardize(yw)[::2], xw[1::2][:12]
    write("seasonal-periodic-rbf", "1.2**2 * RBF(length_scale=3.0) * ExpSineSquared(length_scale=1.1, periodicity=0.95) "
          "+ 0.5**2 * RBF(length_scale=2.0) + WhiteKernel(noise_level=0.05)", xw, yw, xsw)

    # (3) RationalQuadratic + DotProduct + White on the diabetes set.
    xd, yd = diabetes(90, 4)
    write("diabetes-rq-dot", "0.8**2 * RationalQuadratic(alpha=1.5, length_scale=0.12) + DotProduct(sigma_0=0.5) "
          "+ WhiteKernel(noise_level=0.4)", xd[:80], yd[:80], xd[80:])

    # Small cases: every kernel, each Matern nu, ARD, fixed hyperparameters, a product of sums.
    rng = np.random.default_rng(20261207)
    xs = rng.uniform(-1.5, 1.5, size=(18, 2))
    ys = np.sin(2 * xs[:, 0]) + 0.5 * xs[:, 1] + 0.1 * rng.standard_normal(18)
    x, y, xstar = xs[:14], ys[:14], xs[14:]
    x1, xstar1 = x[:, :1], xstar[:, :1]
    small = [
        ("small-constant-white", "ConstantKernel(constant_value=0.7) + WhiteKernel(noise_level=0.3)", x, xstar),
        ("small-rbf-iso", "1.3**2 * RBF(length_scale=0.8) + WhiteKernel(noise_level=0.02)", x, xstar),
        ("small-rbf-ard", "1.1**2 * RBF(length_scale=[0.6, 2.5]) + WhiteKernel(noise_level=0.05)", x, xstar),
        ("small-matern12", "Matern(length_scale=0.9, nu=0.5) + WhiteKernel(noise_level=0.05)", x, xstar),
        ("small-matern32", "0.9**2 * Matern(length_scale=0.7, nu=1.5) + WhiteKernel(noise_level=0.05)", x, xstar),
        ("small-matern52-ard", "Matern(length_scale=[0.5, 1.7], nu=2.5) * 1.2 + WhiteKernel(noise_level=0.04)", x, xstar),
        ("small-rq", "RationalQuadratic(alpha=0.6, length_scale=0.9) + WhiteKernel(noise_level=0.03)", x, xstar),
        ("small-ess", "ExpSineSquared(length_scale=1.4, periodicity=2.1) + WhiteKernel(noise_level=0.1)", x1, xstar1),
        ("small-dot", "DotProduct(sigma_0=0.8) + WhiteKernel(noise_level=0.2)", x, xstar),
        ("small-fixed", "ConstantKernel(constant_value=1.5, constant_value_bounds=\"fixed\") * RBF(length_scale=0.7) "
         "+ WhiteKernel(noise_level=0.05, noise_level_bounds=\"fixed\")", x, xstar),
        ("small-bounds", "ConstantKernel(constant_value=1.0, constant_value_bounds=(0.01, 10.0)) * RBF(length_scale=[0.8, 1.2], "
         "length_scale_bounds=(0.001, 100.0)) + WhiteKernel(noise_level=0.1, noise_level_bounds=(1e-06, 1.0))", x, xstar),
        ("small-product-of-sums", "(RBF(length_scale=0.9) + ConstantKernel(constant_value=0.4)) * (DotProduct(sigma_0=1.1) "
         "+ ExpSineSquared(length_scale=1.2, periodicity=3.0)) + WhiteKernel(noise_level=0.1)", x, xstar),
    ]
    for case, expression, xx, xxs in small:
        write(case, expression, xx, y, xxs)


if __name__ == "__main__":
    main()
