"""Command line for benchmarks (see bench/__init__.py)."""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import traceback
from pathlib import Path

from bench import BENCHMARKS, EXTRA, TARGETS

ROOT = Path(__file__).resolve().parent.parent


def machine_description() -> str:
    """One line naming the machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.node()}: {cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def run_one(name: str, quick: bool, **options) -> dict:
    """Run one benchmark module and return its figures (options only for those that take them)."""
    module = importlib.import_module(f"bench.{name}")
    return module.run(quick=quick, **{k: v for k, v in options.items() if v is not None})


# docs/benchmarks.md: `make bench` writes what is above this line; below it, the hand-written
# records of earlier investigations, which every rewrite keeps as they are.
KEPT_MARKER = "<!-- make bench writes what is above this line; what follows is kept as it is -->"


def load_now() -> float:
    """The 1-minute load average: what else the machine ran beside a benchmark."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def write_report(results: dict, quick: bool, runs: dict | None = None) -> None:
    """Merge these results into bench/results.json and rewrite docs/benchmarks.md's generated part.

    `runs[name]` says when, where, how (quick or not) and under what load each figure set was made;
    a benchmark not run this time keeps its earlier figures and their run."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_description()
    path = ROOT / "bench" / "results.json"
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        earlier = {}
    merged = dict(earlier.get("results") or {})
    merged_runs = dict(earlier.get("runs") or {})
    for name in merged:  # figures from before runs were recorded: the file's own date
        merged_runs.setdefault(name, {"date": earlier.get("date"), "machine": earlier.get("machine"),
                                      "quick": earlier.get("quick")})
    merged.update(results)
    for name in results:
        merged_runs[name] = (runs or {}).get(name) or {"date": now, "machine": machine, "quick": quick}
    order = [n for n in BENCHMARKS if n in merged] + sorted(n for n in merged if n not in BENCHMARKS)
    payload = {"date": now, "machine": machine, "quick": quick, "results": {n: merged[n] for n in order},
               "runs": {n: merged_runs[n] for n in order}}
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m bench all`) on {now}; each section says when its figures were",
        "made, on which machine, and the load (1-minute average) before and after.",
        "",
        f"Machine: {machine}.",
        "",
        "Each figure comes from `python -m bench NAME --json`; targets are in the issue that",
        "introduced the benchmark and in the module docstring of `bench/NAME.py`. This machine is",
        "a shared virtual machine: its host stalls it for tens of milliseconds now and then, which",
        "is why the control loop is compared with a do-nothing floor loop run in the same command.",
        "`python -m bench all --only NAME,...` re-runs some and keeps the others' figures.",
        "",
        "`session` and `session_hog` (`python -m bench session [--hog] --json`) run whole headless",
        "sessions; their figures depend on everything else the machine runs at the time. The GPU",
        "check, `python -m bench gpu_frames --json`, is not part of `make bench`: run it on a",
        "machine with a GPU (see bench/gpu_frames.py; goal <= 5.5 ms per stereo frame).",
        "",
    ]
    for name in order:
        figures, run = merged[name], merged_runs[name]
        lines += [f"## {name}", ""]
        said = [f"Made {run.get('date') or 'at an unrecorded date'}"]
        if run.get("machine") and run.get("machine") != machine:
            said.append(f"on {run['machine']}")
        if "load_before" in run:
            said.append(f"load {run['load_before']} -> {run['load_after']}")
        said.append("--quick" if run.get("quick") else "full run")
        lines += [", ".join(said) + ".", ""]
        lines += ["| figure | value | target |", "| --- | --- | --- |"]
        targets = TARGETS.get(name, {})
        for key, value in figures.items():
            if isinstance(value, float):
                value = f"{value:.4g}"
            lines.append(f"| `{key}` | {value} | {targets.get(key, '')} |")
        lines.append("")
    doc = ROOT / "docs" / "benchmarks.md"
    kept = ""
    try:
        old = doc.read_text()
    except OSError:
        old = ""
    if KEPT_MARKER in old:
        kept = old.split(KEPT_MARKER, 1)[1].lstrip("\n")
    doc.write_text("\n".join(lines) + "\n" + KEPT_MARKER + "\n\n" + kept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=BENCHMARKS + EXTRA + ["all"], help="benchmark to run")
    parser.add_argument("--quick", action="store_true", help="short run, under 30 s")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--profiles", metavar="DIR", help="clinical, findings, stumble: every patient profile YAML in DIR")
    parser.add_argument("--hog", action="store_true", help="(session) a CPU hog at normal priority on every core")
    parser.add_argument("--only", metavar="NAMES", help="(all) only these benchmarks, comma-separated; the others "
                        "keep their earlier figures in docs/benchmarks.md and bench/results.json")
    args = parser.parse_args(argv)
    if args.name != "all":
        figures = run_one(args.name, args.quick, profiles=args.profiles, hog=args.hog or None)
        if args.json:
            print(json.dumps(figures))
        else:
            for key, value in figures.items():
                print(f"{key}: {value}")
        return 0
    names = BENCHMARKS
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in BENCHMARKS]
        if unknown:
            parser.error(f"--only: {', '.join(unknown)} not among {', '.join(BENCHMARKS)}")
    results: dict[str, dict] = {}
    runs: dict[str, dict] = {}
    failed = False
    for name in names:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        load_before = load_now()
        try:
            results[name] = run_one(name, args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            failed = True
        runs[name] = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                      "machine": machine_description(), "quick": args.quick, "load_before": load_before,
                      "load_after": load_now()}
        print(json.dumps({name: results[name]}), flush=True)
        write_report(results, args.quick, runs)  # after each: a long run cut short keeps what it made
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
