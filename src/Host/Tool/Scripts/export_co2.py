#!/usr/bin/python3
"""Exports the weekly Mauna Loa CO2 record (NOAA, public domain) that Debian's
python3-statsmodels ships as statsmodels.datasets.co2, for `gpuad demo` and the tests.

Run from the repository root:  /usr/bin/python3 src/Host/Tool/Scripts/export_co2.py
Writes src/Host/Tool/Data/co2_weekly.csv: one line per week with a measurement (the 59 missing
weeks are dropped), columns `year` (decimal year of the week's date, 1958.24...) and `ppm`.
Deterministic: rerunning rewrites the file byte for byte.
"""
import os
import statsmodels.datasets.co2 as co2

data = co2.load_pandas().data.dropna()
here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "Data", "co2_weekly.csv")
with open(out, "w") as f:
    f.write("year,ppm\n")
    for stamp, ppm in zip(data.index, data["co2"]):
        start = stamp.replace(month=1, day=1)
        days = 366 if stamp.is_leap_year else 365
        year = stamp.year + (stamp - start).days / days
        f.write(f"{year:.6f},{ppm:.1f}\n")
print(f"wrote {len(data)} weeks to {os.path.normpath(out)}")
