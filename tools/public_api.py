#!/usr/bin/env python3
"""Brings the public API baselines (src/**/PublicAPI.Shipped.txt, PublicAPI.Unshipped.txt) up to
date with the code, from the diagnostics of Microsoft.CodeAnalysis.PublicApiAnalyzers.

    python3 tools/public_api.py          # record the current surface in PublicAPI.Unshipped.txt
    python3 tools/public_api.py --ship   # at a release: fold Unshipped into Shipped

The analyzer's code fix is an IDE feature; on the command line its diagnostics carry the same
text: the build below writes them to SARIF logs (Directory.Build.props turns PublicApiLogDir into
each src project's ErrorLog). RS0016 (a public symbol no baseline lists) adds the symbol's line to
Unshipped; RS0017 (a listed symbol that is gone) removes it from Unshipped, or marks a shipped one
*REMOVED*. Review the diff: every line is a public-surface change.
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The tool's project references every other src project, so one build compiles them all.
ENTRY = ROOT / "src/Host/Tool/GpuAD.Tool.csproj"
HEADER = "#nullable enable"
REMOVED = "*REMOVED*"


def projects():
    return {p.stem: p.parent for p in sorted((ROOT / "src").rglob("*.csproj")) if "obj" not in p.parts}


def read(path):
    if not path.exists():
        return []
    return [l for l in path.read_text(encoding="utf-8").splitlines() if l.strip() and l.strip() != HEADER]


def write(path, lines):
    path.write_text("\n".join([HEADER] + sorted(set(lines), key=lambda l: (l.removeprefix(REMOVED), l))) + "\n", encoding="utf-8")


def update():
    with tempfile.TemporaryDirectory() as logs:
        build = subprocess.run(
            ["dotnet", "build", str(ENTRY), "-c", "Release", "--no-incremental",
             "-p:TreatWarningsAsErrors=false", f"-p:PublicApiLogDir={logs}"],
            cwd=ROOT, capture_output=True, text=True)
        if build.returncode != 0:
            sys.exit(build.stdout[-4000:] + build.stderr[-2000:] + "\nthe build failed: fix it first")
        apply(logs)


def apply(logs):
    changed = 0
    for stem, folder in projects().items():
        log = pathlib.Path(logs) / f"{stem}.sarif"
        if not log.exists():
            sys.exit(f"{stem}: no analyzer log (is it referenced from {ENTRY.name}?)")
        results = [r for run in json.loads(log.read_text(encoding="utf-8"))["runs"] for r in run["results"]]
        shipped_path, unshipped_path = folder / "PublicAPI.Shipped.txt", folder / "PublicAPI.Unshipped.txt"
        shipped, unshipped = read(shipped_path), read(unshipped_path)
        before = list(unshipped)
        for r in results:
            props = r.get("properties", {}).get("customProperties", {})
            if r["ruleId"] == "RS0016":
                for sibling in filter(None, props.get("ApiNamesOfSiblingsToRemove", "").split(";")):
                    unshipped = [l for l in unshipped if l != sibling]
                if props["APIName"] not in unshipped:
                    unshipped.append(props["APIName"])
            elif r["ruleId"] == "RS0017":
                name = re.match(r"Symbol '(.*)' is part of the declared API", r["message"]["text"], re.S).group(1)
                if name in unshipped:
                    unshipped.remove(name)
                elif name in shipped and REMOVED + name not in unshipped:
                    unshipped.append(REMOVED + name)
        if sorted(set(unshipped)) != sorted(set(before)) or not unshipped_path.exists():
            write(unshipped_path, unshipped)
            changed += 1
            print(f"{unshipped_path.relative_to(ROOT)}: {len(set(unshipped))} line(s)")
        if not shipped_path.exists():
            write(shipped_path, [])
    print(f"{changed} baseline file(s) changed" if changed else "the baselines match the code")


def ship():
    for stem, folder in projects().items():
        shipped_path, unshipped_path = folder / "PublicAPI.Shipped.txt", folder / "PublicAPI.Unshipped.txt"
        unshipped = read(unshipped_path)
        removed = {l.removeprefix(REMOVED) for l in unshipped if l.startswith(REMOVED)}
        shipped = [l for l in read(shipped_path) if l not in removed] + [l for l in unshipped if not l.startswith(REMOVED)]
        write(shipped_path, shipped)
        write(unshipped_path, [])
        print(f"{shipped_path.relative_to(ROOT)}: {len(set(shipped))} line(s)")


if __name__ == "__main__":
    ship() if sys.argv[1:] == ["--ship"] else update()
