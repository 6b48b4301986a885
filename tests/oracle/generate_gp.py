#!/usr/bin/python3
"""Golden data for GpuAD's Gaussian-process tests, computed by scikit-learn in float64.

Run from anywhere:   /usr/bin/python3 tests/oracle/generate_gp.py
Needs Debian's python3-sklearn (1.2) and python3-statsmodels. Deterministic: rerunning rewrites
tests/golden/gp-sklearn/ byte for byte.

Real data: scikit-learn's diabetes set (442 patients, 10 standardized features; the first n rows
and d columns) and the weekly Mauna Loa CO2 record (statsmodels.datasets.co2; x is the calendar
year, far from the origin, y the centred ppm). Targets are centred and scaled to unit variance.

Model: ConstantKernel(s2) * K(l) + WhiteKernel(s_n2) with K = RBF or Matern(nu = 0.5, 1.5, 2.5),
isotropic (one l) or ARD (one l per column); theta = (log s2, log l..., log s_n2), scikit-learn's
order. GaussianProcessRegressor(alpha=0): K = s2 k(X, X) + s_n2 I exactly, no extra diagonal.

Each case folder gp-sklearn/<case>/ holds
  x.npy      [n, d]      inputs
  y.npy      [n]         targets
  theta.npy  [p]         log-hyperparameters
  nll.npy    [1]         -log_marginal_likelihood(theta)
  grad.npy   [p]         its gradient with respect to theta
  k.npy      [n, n]      the covariance K (WhiteKernel included)
  dk.npy     [p, n, n]   dK/dtheta_j (scikit-learn's K_gradient, moved to the front)
  xstar.npy  [m, d]      test inputs (the rows after the training rows)
  mean.npy   [m]         the posterior predictive mean at xstar (GaussianProcessRegressor.predict)
  var.npy    [m]         its variance, noise included (predict's std squared)
  fit_theta.npy [p], fit_nll.npy [1]: scikit-learn's own fit (L-BFGS-B, default bounds
             1e-5..1e5, no restarts) started from theta
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel
import statsmodels.datasets.co2 as co2

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "gp-sklearn")


def standardize(y):
    return (y - y.mean()) / y.std()


def diabetes(n, d):
    data = load_diabetes()
    return data.data[:n, :d].astype(np.float64), standardize(data.target[:n].astype(np.float64))


def co2_window(start, n):
    frame = co2.load_pandas().data.dropna()
    years = np.array([t.year + (t.dayofyear - 1) / (366 if t.is_leap_year else 365) for t in frame.index])
    ppm = frame["co2"].to_numpy()
    return years[start:start + n, None].astype(np.float64), standardize(ppm[start:start + n].astype(np.float64))


def kernel(name, lengthscale):
    if name == "rbf":
        return RBF(length_scale=lengthscale)
    nu = {"matern12": 0.5, "matern32": 1.5, "matern52": 2.5}[name]
    return Matern(length_scale=lengthscale, nu=nu)


def write(case, x, y, xstar, name, signal, lengthscale, noise):
    k = ConstantKernel(signal) * kernel(name, lengthscale) + WhiteKernel(noise)
    gpr = GaussianProcessRegressor(kernel=k, alpha=0.0, optimizer=None, normalize_y=False).fit(x, y)
    theta = gpr.kernel_.theta.copy()
    lml, grad = gpr.log_marginal_likelihood(theta, eval_gradient=True)
    kk, dk = gpr.kernel_(x, eval_gradient=True)
    mean, std = gpr.predict(xstar, return_std=True)
    fitted = GaussianProcessRegressor(kernel=k, alpha=0.0, normalize_y=False, n_restarts_optimizer=0).fit(x, y)
    folder = os.path.join(ROOT, case)
    os.makedirs(folder, exist_ok=True)
    for fname, arr in [("x", x), ("y", y), ("theta", theta), ("nll", np.array([-lml])), ("grad", -grad),
                       ("k", kk), ("dk", np.ascontiguousarray(np.moveaxis(dk, 2, 0))),
                       ("xstar", xstar), ("mean", mean), ("var", std ** 2),
                       ("fit_theta", fitted.kernel_.theta), ("fit_nll", np.array([-fitted.log_marginal_likelihood_value_]))]:
        np.save(os.path.join(folder, fname + ".npy"), np.ascontiguousarray(arr, dtype=np.float64))
    print(f"{case}: n {x.shape[0]}, d {x.shape[1]}, nll {-lml:.12g}")


def main():
    xall, yall = diabetes(58, 3)
    xd, yd, xsd = xall[:48], standardize(yall[:48]), xall[48:]
    for name in ["rbf", "matern12", "matern32", "matern52"]:
        write(f"diabetes-{name}-iso", xd, yd, xsd, name, 1.3, 0.06, 0.4)
        write(f"diabetes-{name}-ard", xd, yd, xsd, name, 0.8, [0.05, 0.09, 0.04], 0.3)
    xc, yc = co2_window(1000, 40)
    xsc = co2_window(1040, 6)[0]
    for name in ["rbf", "matern32", "matern52"]:
        write(f"co2-{name}-iso", xc, yc, xsc, name, 1.1, 0.3, 0.05)


if __name__ == "__main__":
    main()
