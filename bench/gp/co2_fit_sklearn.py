#!/usr/bin/python3
"""Times scikit-learn's fit of the CO2 gallery model, the one `gpuad demo --model co2` fits.

Run from the repository root:   /usr/bin/python3 bench/gp/co2_fit_sklearn.py [REPEATS]
The data, kernel and start are tests/golden/gp-regressor/co2's (generate_gp_regressor.py):
monthly means of statsmodels' weekly record minus their mean, normalize_y=False, alpha=1e-10,
no restarts. One BLAS thread. Prints each fit's wall time, the LML reached and the evaluations.
"""
import json
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (RBF, ConstantKernel, DotProduct, ExpSineSquared,
                                              RationalQuadratic, WhiteKernel)

names = {"RBF": RBF, "ConstantKernel": ConstantKernel, "DotProduct": DotProduct, "ExpSineSquared": ExpSineSquared,
         "RationalQuadratic": RationalQuadratic, "WhiteKernel": WhiteKernel}
folder = os.path.join("tests", "golden", "gp-regressor", "co2")
x, y = np.load(os.path.join(folder, "x.npy")), np.load(os.path.join(folder, "y.npy"))
with open(os.path.join(folder, "meta.json")) as f:
    expression = json.load(f)["kernel"]
repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
for r in range(repeats):
    kernel = eval(expression, {"__builtins__": {}}, names)
    gp = GaussianProcessRegressor(kernel=kernel, alpha=1e-10, normalize_y=False)
    calls = [0]
    original = gp.log_marginal_likelihood

    def counted(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    gp.log_marginal_likelihood = counted
    start = time.perf_counter()
    gp.fit(x, y)
    seconds = time.perf_counter() - start
    print(f"fit {r}: {seconds:.2f} s, LML {gp.log_marginal_likelihood_value_:.6f}, {calls[0]} evaluations; {gp.kernel_}")
