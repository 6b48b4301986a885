#!/usr/bin/env python3
"""Merges GpuAD's and PyTorch's timings of one suite into one markdown table with ratios.

    python3 bench/gpu/compare.py DIR [--md PATH] [--meta FILE]

Reads DIR/gpuad.json (GpuAD.Bench run) and DIR/torch.json (torch_ref.py), and DIR/meta.json
when present (machine, load averages, command: written by bench/cpu/run.sh). Writes PATH,
by default DIR/DATE-DEVICE.md: DATE is today's date (date +%F), DEVICE the GPU's name in
lower case with dashes (e.g. nvidia-h100-80gb-hbm3), or "cpu". Either file may be missing:
its columns are then empty. Standard library only.
"""
import argparse
import datetime
import json
import os
import re
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def fmt_ms(v):
    if v is None:
        return ""
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def fmt(v, digits=1):
    return "" if v is None else f"{v:.{digits}f}"


def phase(case, name):
    return (case or {}).get("phases", {}).get(name, {}).get("median_ms")


def timed(case):
    return case is not None and case.get("status") in ("ok", "capped")


def status(case):
    if case is None:
        return "absent"
    s = case.get("status", "?")
    return s + (f" ({case['note']})" if case.get("note") else "")


def mib(v):
    return "" if v is None else f"{v / 2**20:.1f}"


def device_slug(gpuad, torch):
    for report in (torch, gpuad):
        if report and report.get("device", {}).get("kind") == "Cuda":
            return re.sub(r"[^a-z0-9]+", "-", report["device"]["name"].lower()).strip("-")
    return "cpu"


def describe(report, label):
    if report is None:
        return f"- {label}: no result file"
    d, h, s = report["device"], report.get("host", {}), report.get("settings", {})
    extra = []
    if "torch" in report:
        extra.append(f"torch {report['torch']}")
    if d.get("cuda"):
        extra.append(f"CUDA {d['cuda']}")
    if d.get("threads"):
        extra.append(f"{d['threads']} threads")
    if d.get("blas"):
        extra.append(f"BLAS {d['blas']}")
    if s.get("tf32"):
        extra.append(f"TF32 {s['tf32']}")
    if d.get("family"):
        extra.append(f"{d['family']} kernels")
    if d.get("tuning"):
        extra.append(f"tuning table {d['tuning']}")
    return (f"- {label}: {d['name']}{' (' + ', '.join(extra) + ')' if extra else ''}; suite {report['suite']}, "
            f"median of up to {s.get('reps')} runs after {s.get('warmup')} warm-up, cap {s.get('case_cap_s')} s per case; "
            f"{report['date_utc']}; {report.get('wall_seconds', '?')} s; host {h.get('cpu')}, {h.get('processors')} processors; "
            f"`{report.get('command', '')}`")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--md", help="output markdown path (default DIR/DATE-DEVICE.md)")
    ap.add_argument("--meta", help="meta JSON (default DIR/meta.json if present)")
    args = ap.parse_args()

    gpuad = load(os.path.join(args.dir, "gpuad.json"))
    torch = load(os.path.join(args.dir, "torch.json"))
    meta = load(args.meta or os.path.join(args.dir, "meta.json")) or {}
    if gpuad is None and torch is None:
        print(f"compare.py: neither gpuad.json nor torch.json in {args.dir}", file=sys.stderr)
        return 2

    ids = [c["id"] for c in (gpuad or torch)["cases"]]
    ids += [c["id"] for c in (torch or {}).get("cases", []) if c["id"] not in ids]
    g = {c["id"]: c for c in (gpuad or {}).get("cases", [])}
    t = {c["id"]: c for c in (torch or {}).get("cases", [])}

    def ratio(i, key="median_ms"):
        a, b = g.get(i), t.get(i)
        if timed(a) and timed(b) and b[key] > 0:
            return f"{a[key] / b[key]:.2f}"
        return ""

    date = datetime.date.today().isoformat()
    out = [f"# GpuAD vs PyTorch, {date}", ""]
    if meta.get("title"):
        out[0] = f"# {meta['title']}, {date}"
    for key, label in (("machine", "Machine"), ("load_start", "Load average at start"),
                       ("load_mid", "Load average between GpuAD and PyTorch"), ("load_end", "Load average at end"), ("command", "Command")):
        if meta.get(key):
            out.append(f"- {label}: {'`' + meta[key] + '`' if key == 'command' else meta[key]}")
    out.append(describe(gpuad, "GpuAD"))
    out.append(describe(torch, "PyTorch"))
    out += ["- Times are medians in milliseconds of synchronized runs; ratio = GpuAD / PyTorch "
            "(above 1: GpuAD is slower); 'ratio of minima' divides the fastest runs, less sensitive to other load. GpuAD GFLOP/s are executed: the flops of the "
            "algorithm that ran (GEMM 2n³, TRSM n³ with n right-hand sides, POTRF n³/3, Cholesky forward + backward n³/3 + 2n³/3 on the blocked "
            "and whole-matrix paths, n³/3 + 4n³ composed; times the batch). PyTorch's 'effective' GFLOP/s divide GpuAD's executed count of the "
            "same problem by PyTorch's time (its algorithm may execute more, e.g. the composed Cholesky backward).", ""]

    kernel_ops = ("gemm", "trsm", "potrf")
    designs = ("cholesky-one-level", "cholesky-two-level", "cholesky-two-streams", "cholesky-left-looking",
               "cholesky-reverse-by-inverse", "cholesky-dataflow")  # GpuAD-only: the Cholesky designs forced
    variants = ("cholesky-composed", "cholesky-blocked", "cholesky-whole") + designs  # GpuAD-only
    kernels = [i for i in ids if i.split("/")[0] in kernel_ops]
    chol = [i for i in ids if i.split("/")[0] not in kernel_ops + variants]  # forward + backward: cholesky, gp-nll, ...

    def effective(a, b):  # GpuAD's executed flops of the case over PyTorch's time
        if not a or not b or a.get("executed_flops") is None or not b.get("median_ms"):
            return None
        return a["executed_flops"] / (b["median_ms"] * 1e6)

    def composed(i):  # GpuAD's own composed-backward run of the same case, if the suite has one
        return g.get(i.replace("cholesky/", "cholesky-composed/", 1)) if i.startswith("cholesky/") else None
    if kernels:
        out += ["## Kernels", "",
                "PyTorch: `torch.matmul` (TF32 off), `torch.linalg.solve_triangular`, `torch.linalg.cholesky_ex`. "
                "GpuAD: `Blas.Gemm`, `Blas.Trsm` (left, lower), `Blas.Potrf` (in place; inputs restored untimed).", "",
                "| case | GpuAD ms | PyTorch ms | ratio | ratio of minima | GpuAD GFLOP/s | PyTorch effective GFLOP/s | status GpuAD / PyTorch |",
                "|---|---:|---:|---:|---:|---:|---:|---|"]
        for i in kernels:
            a, b = g.get(i), t.get(i)
            out.append(f"| {i} | {fmt_ms((a or {}).get('median_ms'))} | {fmt_ms((b or {}).get('median_ms'))} | {ratio(i)} | {ratio(i, 'min_ms')} | "
                       f"{fmt((a or {}).get('gflops'))} | {fmt(effective(a, b))} | {status(a)} / {status(b)} |")
        out.append("")
    if chol:
        out += ["## Forward + backward", "",
                "gp-nll: GpuAD builds Σ = s²·exp(−D/(2ℓ²)) + σ²·I from the distances D, its negative log likelihood and "
                "the gradient to (log ℓ, log s², log σ²); GPyTorch runs `-ExactMarginalLogLikelihood` of an exact GP with "
                "Cholesky forced (`max_cholesky_size`) and its backward. Other ops: as below.",
                "GpuAD: `Op.Cholesky` on a fresh tape, then `Tape.Backward(L, L̄)` with the automatic algorithm "
                "(blocked reverse mode, or whole-matrix kernels for small matrices); 'GpuAD composed bwd' is the same "
                "run with `CholeskyAlgorithm.Composed` (PyTorch's formula on GpuAD's kernels), where the suite has it. "
                "PyTorch: `L = torch.linalg.cholesky(A); L.backward(Lbar)`. Peak: GpuAD's pool peak during the backward "
                "pass (whole blocks, up to 25% slack per block), PyTorch's `torch.cuda.max_memory_allocated`; "
                "both include the inputs A and L̄.", "",
                "| case | GpuAD fwd ms | GpuAD bwd ms | GpuAD total ms | GpuAD composed bwd ms | PyTorch fwd ms | PyTorch bwd ms | PyTorch total ms "
                "| ratio | ratio of minima | GpuAD GFLOP/s | PyTorch effective GFLOP/s | GpuAD peak MiB | GpuAD composed peak MiB | PyTorch peak MiB | status GpuAD / PyTorch |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for i in chol:
            a, b = g.get(i), t.get(i)
            c = composed(i)
            out.append(f"| {i} | {fmt_ms(phase(a, 'forward'))} | {fmt_ms(phase(a, 'backward'))} | {fmt_ms((a or {}).get('median_ms'))} | "
                       f"{fmt_ms(phase(c, 'backward')) if timed(c) else ''} | "
                       f"{fmt_ms(phase(b, 'forward'))} | {fmt_ms(phase(b, 'backward'))} | {fmt_ms((b or {}).get('median_ms'))} | "
                       f"{ratio(i)} | {ratio(i, 'min_ms')} | {fmt((a or {}).get('gflops'))} | {fmt(effective(a, b))} | "
                       f"{mib((a or {}).get('peak_bytes'))} | {mib((c or {}).get('peak_bytes')) if timed(c) else ''} | "
                       f"{mib((b or {}).get('peak_bytes'))} | {status(a)} / {status(b)} |")
        out.append("")

    forced = [i for i in ids if i.split("/")[0] in designs]
    if forced:
        out += ["## Cholesky designs at the same order", "",
                "GpuAD-only: `Op.Cholesky` forward + backward with the design forced (`CholeskyOptions.OuterBlockSize`: n for one "
                "level, the table's outer blocks or 512 for two, right-looking; `potrfStreams` = 2 while the two-streams case records its plan; "
                "`potrfLeftLooking` while the left-looking case does, `potrfBlockReverseByInverse` while the reverse-by-inverse case does "
                "(the other two-level cases right-looking with the blocks' reverse in leaves; streams as the table says); "
                "`CholeskyAlgorithm.Dataflow` for the dataflow case: every tile a task of one persistent launch per pass), "
                "beside the automatic `cholesky/` case and PyTorch's of the same order. GFLOP/s are executed: two levels add each "
                "outer block's inverse and the panels' GEMMs against it (`Flops.TwoLevelExtra`), the blocks' reverse by inverse 6w³ per block "
                "in place of (2/3)·w³ (`Flops.BlockReverseExtra`); the dataflow reverse executes "
                "n³/3 + 2n³ (`Flops.CholeskyBackward`).", "",
                "| case | path | fwd ms | bwd ms | total ms | vs automatic | vs PyTorch total | GFLOP/s | peak MiB | status |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for i in forced:
            a = g.get(i)
            base = "cholesky/" + i.split("/", 1)[1]
            auto, b = g.get(base), t.get(base)
            def over(x, y):
                return f"{x['median_ms'] / y['median_ms']:.2f}×" if x and y and x.get("median_ms") and y.get("median_ms") else ""
            out.append(f"| {i} | {(a or {}).get('path', '')} | {fmt_ms(phase(a, 'forward'))} | {fmt_ms(phase(a, 'backward'))} | "
                       f"{fmt_ms((a or {}).get('median_ms'))} | {over(a, auto)} | {over(a, b)} | {fmt((a or {}).get('gflops'))} | "
                       f"{mib((a or {}).get('peak_bytes'))} | {status(a)} |")
        out.append("")

    path = args.md or os.path.join(args.dir, f"{date}-{device_slug(gpuad, torch)}.md")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    text = "\n".join(out)
    with open(path, "w") as f:
        f.write(text)
    print(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
