#!/usr/bin/env python3
"""Print the results files of bench/run.py as Markdown tables, as docs/benchmarks.md shows them.

Usage: python3 bench/report.py bench/results/FILE.json [...]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

MIB = 1 << 20
GIB = 1 << 30
TOOL_ORDER = {("rysc", None): 0, ("rysc", 1): 1, ("cp", None): 2, ("naive", None): 3}


def size_key(label: str) -> float:
    number = float(label.rstrip("GiBMK"))
    return number * (1024 if label.endswith("GiB") else 1)


def apply_table(rows: list) -> str:
    lines = [
        "| size | form | command | median s | written | MiB/s | × cp | × cp, paired | peak RSS | CPU s | min–max s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = sorted(rows, key=lambda r: (size_key(r["size"]), r["form"], TOOL_ORDER[(r["tool"], r["jobs"])]))
    for row in rows:
        command = {"rysc": "rysc apply", "cp": "cp", "naive": "naive_copy.py"}[row["tool"]]
        if row["jobs"]:
            command += f" --jobs {row['jobs']}"
        lines.append(
            f"| {row['size']} | {'HF' if row['form'] == 'hf' else 'GGUF'} | {command} | {row['median_seconds']:.2f} "
            f"| {row['output_bytes'] / GIB:.2f} GiB | {row['throughput_bytes_per_second'] / MIB:.0f} "
            f"| {row.get('ratio_to_cp', float('nan')):.2f} | {row.get('paired_ratio_to_cp', float('nan')):.2f} "
            f"| {row['max_rss_kib'] / 1024:.1f} MiB "
            f"| {row['median_cpu_seconds']:.1f} | {row['min_seconds']:.1f}–{row['max_seconds']:.1f} |"
        )
    return "\n".join(lines)


def add_spread(results: dict) -> None:
    """Add the fastest and slowest run of every case to its summary row."""
    for row in results["summary"]:
        times = [
            run["seconds"]
            for run in results["runs"]
            if (run["size_label"], run["form"], run["tool"], run["jobs"]) == (row["size"], row["form"], row["tool"], row["jobs"])
            and run["exit_code"] == 0
        ]
        row["min_seconds"], row["max_seconds"] = min(times), max(times)


def add_paired_ratio(results: dict) -> None:
    """Add to every summary row the median, over repeats, of its throughput divided by cp's in the same repeat.

    Runs of one repeat follow each other within a minute or two, so the ratio cancels
    most of the drift of the disk's speed between repeats, which the ratio of medians
    keeps.
    """
    throughput = {}
    for run in results["runs"]:
        if run["exit_code"] == 0 and run["seconds"] > 0:
            key = (run["size_label"], run["form"], run["tool"], run["jobs"], run["repeat"])
            throughput[key] = run["output_bytes"] / run["seconds"]
    for row in results["summary"]:
        ratios = []
        for (size, form, tool, jobs, repeat), value in throughput.items():
            cp = throughput.get((size, form, "cp", None, repeat))
            if (size, form, tool, jobs) == (row["size"], row["form"], row["tool"], row["jobs"]) and cp:
                ratios.append(value / cp)
        if ratios:
            row["paired_ratio_to_cp"] = statistics.median(ratios)


def plan_lines(plan: dict) -> list:
    checkpoint = plan["checkpoint"]
    lines = [
        f"Checkpoint: {checkpoint['shards']} shards, {checkpoint['tensors']} tensors, "
        f"{checkpoint['apparent_bytes'] / GIB:.0f} GiB apparent, {checkpoint['allocated_bytes'] / MIB:.1f} MiB allocated, "
        f"{checkpoint['header_bytes'] / MIB:.1f} MiB of headers.",
        "",
        "| cache | runs | median s | min–max s | peak RSS |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for cache in ("cold", "warm"):
        runs = [run for run in plan["runs"] if run["cache"] == cache and run["exit_code"] == 0]
        if runs:
            times = [run["seconds"] for run in runs]
            rss = max(run["max_rss_kib"] for run in runs) / 1024
            lines.append(f"| {cache} | {len(runs)} | {statistics.median(times):.3f} | {min(times):.3f}–{max(times):.3f} | {rss:.1f} MiB |")
    if plan.get("read_bytes") is not None:
        lines += ["", f"Bytes read from the shards (strace): {plan['read_bytes']}, header bytes: {checkpoint['header_bytes']}."]
    return lines


def verify_table(rows: list) -> str:
    """Return a Markdown table of rysc verify against the streaming hashes."""
    lines = [
        "| size | form | command | median s | hashed | MiB/s | × hashlib | × sha256sum | peak RSS |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    order = {"rysc verify": 0, "hashlib": 1, "sha256sum": 2}
    for row in sorted(rows, key=lambda r: (size_key(r["size"]), r["form"], order.get(r["tool"], 3))):
        ratios = [f"{row[key]:.2f}" if key in row else "–" for key in ("ratio_to_hashlib", "ratio_to_sha256sum")]
        lines.append(
            f"| {row['size']} | {row['form'].upper() if row['form'] == 'gguf' else 'HF'} | {row['tool']} | "
            f"{row['median_seconds']:.2f} | {row['bytes'] / (1 << 30):.2f} GiB | "
            f"{row['throughput_bytes_per_second'] / (1 << 20):.0f} | {ratios[0]} | {ratios[1]} | "
            f"{row['max_rss_kib'] / 1024:.1f} MiB |"
        )
    return "\n".join(lines)


def main(paths: list) -> int:
    for path in paths:
        results = json.loads(Path(path).read_text())
        machine = results["machine"]
        print(f"### {Path(path).name}\n")
        print(f"`{results['command']}`, started {results['started']}, cache {results['cache']}, "
              f"rysc sha256 {machine['rysc_sha256'][:12]}, git {machine['git_head'][:7]}, "
              f"load average {machine['load_average_at_start'][0]:.1f} at start and {results['load_average_at_end'][0]:.1f} at end.\n")
        if results["summary"]:
            add_spread(results)
            add_paired_ratio(results)
            print(apply_table(results["summary"]) + "\n")
        if results.get("verify_summary"):
            print(verify_table(results["verify_summary"]) + "\n")
        if results.get("vocab"):
            vocab = results["vocab"]
            print(f"Vocabulary of {vocab['vocab']} tokens: peak RSS of rysc apply {vocab['hf_max_rss_kib'] / 1024:.1f} MiB (HF), "
                  f"{vocab['gguf_max_rss_kib'] / 1024:.1f} MiB (GGUF).\n")
        if results.get("plan"):
            print("\n".join(plan_lines(results["plan"])) + "\n")
        if results["problems"]:
            print(f"Problems: {results['problems']}\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
