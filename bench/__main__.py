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


def write_report(results: dict, quick: bool) -> None:
    """Rewrite docs/benchmarks.md and bench/results.json."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_description()
    payload = {"date": now, "machine": machine, "quick": quick, "results": results}
    (ROOT / "bench" / "results.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {now}.",
        "",
        f"Machine: {machine}.",
        "",
        "Each figure comes from `python -m bench NAME --json`; targets are in the issue that",
        "introduced the benchmark and in the module docstring of `bench/NAME.py`. This machine is",
        "a shared virtual machine: its host stalls it for tens of milliseconds now and then, which",
        "is why the control loop is compared with a do-nothing floor loop run in the same command.",
        "",
        "`session` and `session_hog` (`python -m bench session [--hog] --json`) run whole headless",
        "sessions; their figures depend on everything else the machine runs at the time. The GPU",
        "check, `python -m bench gpu_frames --json`, is not part of `make bench`: run it on a",
        "machine with a GPU (see bench/gpu_frames.py; goal <= 5.5 ms per stereo frame).",
        "",
    ]
    for name, figures in results.items():
        lines += [f"## {name}", "", "| figure | value | target |", "| --- | --- | --- |"]
        targets = TARGETS.get(name, {})
        for key, value in figures.items():
            if isinstance(value, float):
                value = f"{value:.4g}"
            lines.append(f"| `{key}` | {value} | {targets.get(key, '')} |")
        lines.append("")
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=BENCHMARKS + EXTRA + ["all"], help="benchmark to run")
    parser.add_argument("--quick", action="store_true", help="short run, under 30 s")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--profiles", metavar="DIR", help="clinical, findings, stumble: every patient profile YAML in DIR")
    parser.add_argument("--hog", action="store_true", help="(session) a CPU hog at normal priority on every core")
    args = parser.parse_args(argv)
    if args.name != "all":
        figures = run_one(args.name, args.quick, profiles=args.profiles, hog=args.hog or None)
        if args.json:
            print(json.dumps(figures))
        else:
            for key, value in figures.items():
                print(f"{key}: {value}")
        return 0
    results: dict[str, dict] = {}
    failed = False
    for name in BENCHMARKS:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            results[name] = run_one(name, args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            failed = True
        print(json.dumps({name: results[name]}), flush=True)
    write_report(results, args.quick)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
