#!/usr/bin/python3
"""Golden data for GpuAD's GpRegressor: scikit-learn's GaussianProcessRegressor in float64.

Run from anywhere:   /usr/bin/python3 tests/oracle/generate_gp_regressor.py
Needs Debian's python3-sklearn (1.2) and python3-statsmodels. Deterministic: rerunning rewrites
tests/golden/gp-regressor/ byte for byte.

Cases (each a folder gp-regressor/<case>/):
  co2           the composite kernel of scikit-learn's gallery example "Forecasting of CO2 level on
                Mona Loa dataset using Gaussian process regression", fitted to the monthly means of
                statsmodels' weekly CO2 record (x = year + month / 12, y = ppm minus its mean,
                normalize_y=False as there), from the example's start.
  seasonal      ConstantKernel * ExpSineSquared * RBF + WhiteKernel on a synthetic seasonal series
                (normalize_y=False, no restarts).
  seasonal-norm the same with normalize_y=True and 3 restarts (random_state=0).
  diabetes      ConstantKernel * RationalQuadratic + DotProduct + WhiteKernel on the first 80 rows
                and 3 columns of scikit-learn's diabetes set, raw targets, normalize_y=True, 2 restarts.
  diabetes-raw  the same kernel on targets centred and scaled by hand, normalize_y=False.

Files:
  x.npy [n, d], y.npy [n], xstar.npy [m, d]
  theta0.npy [p]      the start's theta (kernel.theta: natural logs, scikit-learn's order)
  lml0.npy [1], grad0.npy [p]   log_marginal_likelihood(theta0, eval_gradient=True) of the fitted model
  theta.npy [p], lml.npy [1]    the fit's kernel_.theta and log_marginal_likelihood_value_
  mean.npy [m], std.npy [m]     predict(xstar, return_std=True) at the fitted theta
  cov.npy [m, m]                predict(xstar, return_cov=True)'s covariance (the small cases)
  draws.npy [restarts, p]       the restarts' starts: RandomState(random_state).uniform(bounds)
  meta.json  kernel (the start, in scikit-learn's repr syntax with exact values), fitted
             (repr(kernel_)), alpha, normalize_y, restarts, random_state
"""
import json
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (RBF, ConstantKernel, DotProduct, ExpSineSquared,
                                              RationalQuadratic, WhiteKernel)
import statsmodels.datasets.co2 as co2

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "gp-regressor")

# The gallery example's kernel and start, written so that both Python and Kernel.Parse read it.
CO2_KERNEL = ("50.0**2 * RBF(length_scale=50.0)"
              " + 2.0**2 * RBF(length_scale=100.0) * ExpSineSquared(length_scale=1.0, periodicity=1.0, periodicity_bounds=\"fixed\")"
              " + 0.5**2 * RationalQuadratic(length_scale=1.0, alpha=1.0)"
              " + 0.1**2 * RBF(length_scale=0.1) + WhiteKernel(noise_level=0.1**2, noise_level_bounds=(1e-5, 1e5))")
SEASONAL_KERNEL = "1.0**2 * ExpSineSquared(length_scale=1.0, periodicity=1.3) * RBF(length_scale=5.0) + WhiteKernel(noise_level=0.1)"
DIABETES_KERNEL = "1.0**2 * RationalQuadratic(length_scale=1.0, alpha=1.0) + DotProduct(sigma_0=1.0) + WhiteKernel(noise_level=1.0)"

NAMES = {"RBF": RBF, "ConstantKernel": ConstantKernel, "DotProduct": DotProduct, "ExpSineSquared": ExpSineSquared,
         "RationalQuadratic": RationalQuadratic, "WhiteKernel": WhiteKernel}


def kernel_of(expression):
    # "c**2 * K" is ConstantKernel(c**2) * K in scikit-learn's repr: a bare number times a kernel
    # becomes a ConstantKernel through Kernel.__rmul__.
    return eval(expression, {"__builtins__": {}}, NAMES)


def co2_monthly():
    frame = co2.load_pandas().data
    monthly = frame.resample("M").mean().dropna(axis="index", how="any")
    x = (monthly.index.year + monthly.index.month / 12).to_numpy().reshape(-1, 1).astype(np.float64)
    return x, monthly["co2"].to_numpy().astype(np.float64)


def seasonal():
    rng = np.random.RandomState(7)
    x = np.sort(rng.uniform(0.0, 10.0, 60))
    y = np.sin(2 * np.pi * x / 1.3) * (1.0 + 0.08 * x) + 0.3 * np.cos(0.4 * x) + 0.1 * rng.standard_normal(60)
    return x[:, None], y


def diabetes():
    data = load_diabetes()
    return data.data[:80, :3].astype(np.float64), data.target[:80].astype(np.float64)


def save(folder, name, array):
    np.save(os.path.join(folder, name + ".npy"), np.ascontiguousarray(array, dtype=np.float64))


def case(name, expression, x, y, xstar, normalize_y, restarts=0, random_state=0, cov=False):
    folder = os.path.join(ROOT, name)
    os.makedirs(folder, exist_ok=True)
    kernel = kernel_of(expression)
    gp = GaussianProcessRegressor(kernel=kernel, alpha=1e-10, normalize_y=normalize_y,
                                  n_restarts_optimizer=restarts, random_state=random_state)
    gp.fit(x, y)
    lml0, grad0 = gp.log_marginal_likelihood(kernel.theta, eval_gradient=True)
    mean, std = gp.predict(xstar, return_std=True)
    save(folder, "x", x)
    save(folder, "y", y)
    save(folder, "xstar", xstar)
    save(folder, "theta0", kernel.theta)
    save(folder, "lml0", [lml0])
    save(folder, "grad0", grad0)
    save(folder, "theta", gp.kernel_.theta)
    save(folder, "lml", [gp.log_marginal_likelihood_value_])
    save(folder, "mean", mean)
    save(folder, "std", std)
    if cov:
        save(folder, "cov", gp.predict(xstar, return_cov=True)[1])
    bounds = kernel.bounds
    rng = np.random.RandomState(random_state)
    save(folder, "draws", np.array([rng.uniform(bounds[:, 0], bounds[:, 1]) for _ in range(restarts)]).reshape(restarts, len(kernel.theta)))
    meta = {"kernel": expression, "fitted": repr(gp.kernel_), "alpha": 1e-10, "normalize_y": normalize_y,
            "restarts": restarts, "random_state": random_state}
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"{name}: n = {len(y)}, LML {gp.log_marginal_likelihood_value_:.6f} from {lml0:.6f}; {gp.kernel_}")


def main():
    x, ppm = co2_monthly()
    case("co2", CO2_KERNEL, x, ppm - ppm.mean(), np.linspace(1958.0, 2010.0, 40)[:, None], normalize_y=False)
    x, y = seasonal()
    xstar = np.linspace(-1.0, 12.0, 25)[:, None]
    case("seasonal", SEASONAL_KERNEL, x, y, xstar, normalize_y=False, cov=True)
    case("seasonal-norm", SEASONAL_KERNEL, x, y, xstar, normalize_y=True, restarts=3, random_state=0, cov=True)
    x, y = diabetes()
    xstar = load_diabetes().data[80:100, :3].astype(np.float64)
    case("diabetes", DIABETES_KERNEL, x, y, xstar, normalize_y=True, restarts=2, random_state=3, cov=True)
    case("diabetes-raw", DIABETES_KERNEL, x, (y - y.mean()) / y.std(), xstar, normalize_y=False)


if __name__ == "__main__":
    main()
