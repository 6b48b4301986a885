#!/usr/bin/python3
"""How far the Mauna Loa CO2 model's NLL gradient moves when K moves by one ulp per element.

Run: /usr/bin/python3 tests/oracle/co2_gradient_floor.py (sklearn 1.2, statsmodels). scikit-learn's own
gradient changes by about 1e-9 (max-abs relative) under a symmetric +-1-ulp perturbation of K,
whose condition number is 6.1e7: agreement between two float64 implementations of that gradient
is bounded by a few times that, which is why KernelTests compares it at 1e-8.
"""
import os, sys
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import generate_gp_kernels as g
from sklearn.gaussian_process import GaussianProcessRegressor
from scipy.linalg import cho_factor, cho_solve
x, y = g.co2_monthly()
kernel = eval(g.CO2_MODEL, {"__builtins__": {}}, g.KERNELS)
gpr = GaussianProcessRegressor(kernel=kernel, alpha=0.0, optimizer=None).fit(x, y)
theta = gpr.kernel_.theta
K, dK = gpr.kernel_.clone_with_theta(theta)(x, eval_gradient=True)
def grad(K):
    L = cho_factor(K, lower=True)
    a = cho_solve(L, y)
    Kinv = cho_solve(L, np.eye(len(y)))
    W = np.outer(a, a) - Kinv
    return 0.5 * np.einsum('ij,jik->k', W, dK)
g0 = grad(K)
rng = np.random.default_rng(0)
for t in range(3):
    E = rng.choice([-1.0, 0.0, 1.0], size=K.shape); E = np.triu(E) + np.triu(E, 1).T
    Kp = K + E * np.spacing(np.abs(K))
    gp = grad(Kp)
    print("1-ulp perturbation of K: gradient change, max-abs relative:", np.max(np.abs(gp - g0)) / np.max(np.abs(g0)))
print("cond", np.linalg.cond(K))
