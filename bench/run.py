#!/usr/bin/env python3
"""Benchmark `rysc apply` and `rysc plan` against cp and a hand-written Python copy.

For each requested size the script writes a synthetic Qwen3.6-style checkpoint twice,
as a Hugging Face folder and as a qwen35 GGUF file (bench/synth.py), then runs these
cases, interleaved and repeated:

  rysc apply RECIPE SRC OUT             (default --jobs, and --jobs 1)
  cp -r SRC OUT / cp SRC.gguf OUT.gguf  the physical reference
  python3 bench/naive_copy.py SRC OUT   read each tensor into memory, write it out

with RECIPE = `duplicate blocks[15:20] after; remap per_layer *;`, in a new random
order in every repeat. Before every run
it syncs and, when it may (root), drops the page cache, so every run starts with a
cold cache. Each run is timed from start until a following `sync` returns, because
rysc fsyncs its output and cp does not. Peak RSS and CPU time come from
`/usr/bin/time -v`. The report gives medians: throughput in output bytes per
second, its ratio to cp's, and peak RSS.

It also times `rysc plan`, cold and warm, on a sparse qwen3_5_moe checkpoint with
1,000 shards and about 101,000 tensors whose data sections are holes. When strace is
installed, it checks that plan reads no more than the headers from the shards.

Usage:
  python3 bench/run.py --size 4GiB --repeats 3
  python3 bench/run.py --size 1GiB,2GiB,4GiB,8GiB --repeats 3
  python3 bench/run.py --smoke          # a few MiB, seconds, strict output checks

It prints a table and writes a JSON file (default bench/results/DATE-SIZES.json).
The exit status is 1 when rysc or a check fails, and 2 on a usage error.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import synth  # noqa: E402
import verify  # noqa: E402

RECIPE = "rys 1;\nduplicate blocks[15:20] after;\nremap per_layer *;\n"
WINDOW = (15, 20)
TIME_BINARY = "/usr/bin/time"
UNITS = {"": 1, "B": 1, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "KB": 10**3, "MB": 10**6, "GB": 10**9}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*", text, re.IGNORECASE)
    if not match or (match[2] or "").upper() not in UNITS:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: give a number with B, KiB, MiB or GiB, such as 4GiB")
    return int(float(match[1]) * UNITS[(match[2] or "").upper()])


def format_size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} B"


# ---------------------------------------------------------------------------
# Running one measured command


@dataclass
class Run:
    """One timed command. seconds includes the sync after it, and command_seconds does not."""

    size_label: str
    form: str
    tool: str
    jobs: Optional[int]
    repeat: int
    seconds: float
    command_seconds: float
    output_bytes: int
    max_rss_kib: int
    user_seconds: float
    system_seconds: float
    cache: str
    exit_code: int

    @property
    def case(self) -> tuple:
        return (self.size_label, self.form, self.tool, self.jobs)


@dataclass
class Context:
    rysc: Path
    workdir: Path
    recipe: Path
    drop_caches: bool
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def drop_page_cache(context: Context) -> str:
    """Sync, then drop the page cache when permitted. Returns "cold" or "warm"."""
    os.sync()
    if not context.drop_caches:
        return "warm"
    try:
        with open("/proc/sys/vm/drop_caches", "w") as control:
            control.write("3\n")
        return "cold"
    except OSError as error:
        context.drop_caches = False
        context.notes.append(f"dropping the page cache failed ({error}); all runs are warm-cache runs")
        return "warm"


def parse_time_output(text: str) -> dict:
    """Read the fields of `/usr/bin/time -v` that the report uses."""
    values = {}
    for line in text.splitlines():
        key, _, value = line.strip().rpartition(": ")
        values[key] = value
    return {
        "max_rss_kib": int(values.get("Maximum resident set size (kbytes)", 0)),
        "user_seconds": float(values.get("User time (seconds)", 0)),
        "system_seconds": float(values.get("System time (seconds)", 0)),
    }


def run_measured(context: Context, command: list, stdout=subprocess.DEVNULL) -> tuple:
    """Run command under /usr/bin/time -v after a cache drop. Returns (process, times, cache state)."""
    cache = drop_page_cache(context)
    time_file = context.workdir / "time.txt"
    started = time.perf_counter()
    process = subprocess.run([TIME_BINARY, "-v", "-o", str(time_file), *command], stdout=stdout, stderr=subprocess.PIPE)
    finished = time.perf_counter()
    os.sync()
    synced = time.perf_counter()
    times = parse_time_output(time_file.read_text())
    times["seconds"] = synced - started
    times["command_seconds"] = finished - started
    return process, times, cache


# ---------------------------------------------------------------------------
# Apply benchmark


@dataclass
class Sources:
    label: str
    hf: Path
    gguf: Path
    info: dict


def generate_sources(context: Context, size: int, label: str, text_shard_size: int) -> Sources:
    hf_widths = synth.fit_unit(size, synth.hf_size)
    gguf_widths = synth.fit_unit(size, synth.gguf_size)
    folder = context.workdir / f"src-{label}"
    folder.mkdir()
    text_shards = max(2, round(synth.hf_size(hf_widths) / text_shard_size))

    started = time.perf_counter()
    hf_info = synth.write_hf_checkpoint(folder / "hf", hf_widths, text_shards)
    os.sync()
    hf_seconds = time.perf_counter() - started
    started = time.perf_counter()
    gguf_info = synth.write_gguf_checkpoint(folder / "model.gguf", gguf_widths)
    os.sync()
    gguf_seconds = time.perf_counter() - started

    hf_info.update(unit=hf_widths.unit, hidden=hf_widths.hidden, seconds=round(hf_seconds, 2))
    gguf_info.update(unit=gguf_widths.unit, hidden=gguf_widths.hidden, seconds=round(gguf_seconds, 2))
    print(
        f"[{label}] generated HF {format_size(hf_info['bytes'])} in {hf_info['shards']} shards, "
        f"{hf_info['tensors']} tensors ({hf_seconds:.1f} s); GGUF {format_size(gguf_info['bytes'])}, "
        f"{gguf_info['tensors']} tensors ({gguf_seconds:.1f} s)",
        flush=True,
    )
    return Sources(label, folder / "hf", folder / "model.gguf", {"hf": hf_info, "gguf": gguf_info})


def case_command(context: Context, sources: Sources, form: str, tool: str, jobs: Optional[int], out: Path) -> list:
    source = sources.hf if form == "hf" else sources.gguf
    if tool == "rysc":
        command = [str(context.rysc), "apply", str(context.recipe), str(source), str(out)]
        return command + (["--jobs", str(jobs)] if jobs else [])
    if tool == "cp":
        return ["cp", "-r", str(source), str(out)] if form == "hf" else ["cp", str(source), str(out)]
    window = f"{WINDOW[0]}:{WINDOW[1]}"
    return [sys.executable, str(BENCH_DIR / "naive_copy.py"), str(source), str(out), "--window", window]


APPLY_CASES = [
    ("hf", "rysc", None),
    ("hf", "cp", None),
    ("hf", "naive", None),
    ("hf", "rysc", 1),
    ("gguf", "rysc", None),
    ("gguf", "cp", None),
    ("gguf", "naive", None),
    ("gguf", "rysc", 1),
]


def check_output(context: Context, sources: Sources, form: str, tool: str, out: Path, strict: bool) -> None:
    """Record a problem when an output does not hold the bytes it must hold."""
    source = sources.hf if form == "hf" else sources.gguf
    mapping = verify.source_layers(synth.NUM_LAYERS, *WINDOW)
    if tool == "cp":
        problems = verify.same_bytes(source, out)
    elif strict and form == "hf":
        problems = verify.strict_check_hf(source, out, mapping)
    elif strict:
        problems = verify.strict_check_gguf(source, out, mapping, synth.NUM_LAYERS)
    else:
        problems = verify.spot_check(form, source, out, mapping, synth.NUM_LAYERS)
    context.problems += [f"{tool} {form}: {problem}" for problem in problems]


def run_apply_case(context, sources, form, tool, jobs, repeat, check: str) -> Run:
    out_parent = context.workdir / "out"
    shutil.rmtree(out_parent, ignore_errors=True)
    out_parent.mkdir()
    out = out_parent / ("hf" if form == "hf" else "model.gguf")
    command = case_command(context, sources, form, tool, jobs, out)
    process, times, cache = run_measured(context, command)
    if process.returncode != 0:
        message = process.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        context.problems.append(f"{' '.join(command)} exited with {process.returncode}: {' | '.join(message)}")
    output_bytes = synth.folder_size(out) if out.exists() else 0
    if process.returncode == 0 and check != "none":
        check_output(context, sources, form, tool, out, strict=check == "strict")
    if check == "strict" and tool != "cp" and process.returncode == 0:
        keep = context.workdir / f"kept-{form}-{tool}-{jobs}"
        if not keep.exists():
            out.rename(keep)
    shutil.rmtree(out_parent, ignore_errors=True)
    return Run(sources.label, form, tool, jobs, repeat, times["seconds"], times["command_seconds"], output_bytes,
               times["max_rss_kib"], times["user_seconds"], times["system_seconds"], cache, process.returncode)


def compare_kept_outputs(context: Context) -> None:
    """In the smoke run, check that naive_copy.py and rysc wrote the same tensor bytes."""
    kept = context.workdir
    if (kept / "kept-hf-rysc-None").exists() and (kept / "kept-hf-naive-None").exists():
        context.problems += verify.compare_outputs(
            verify.read_hf_tensors(kept / "kept-hf-rysc-None"),
            verify.read_hf_tensors(kept / "kept-hf-naive-None"),
            "rysc vs naive_copy.py (HF)",
        )
    if (kept / "kept-gguf-rysc-None").exists() and (kept / "kept-gguf-naive-None").exists():
        context.problems += verify.compare_outputs(
            verify.gguf_io.read_gguf(kept / "kept-gguf-rysc-None").tensors,
            verify.gguf_io.read_gguf(kept / "kept-gguf-naive-None").tensors,
            "rysc vs naive_copy.py (GGUF)",
        )


def bench_apply(context: Context, size: int, repeats: int, text_shard_size: int, strict: bool, skip_naive: bool,
                verify_repeats: int, with_sha256sum: bool) -> tuple:
    label = format_size(size).replace(" ", "")
    sources = generate_sources(context, size, label, text_shard_size)
    if strict:
        context.problems += [f"generated source: {p}" for p in verify.strict_check_hf(sources.hf, sources.hf, list(range(synth.NUM_LAYERS)))]
        try:
            verify.gguf_io.read_gguf(sources.gguf)
        except ValueError as error:
            context.problems.append(f"generated source: {error}")
    cases = [case for case in APPLY_CASES if not (skip_naive and case[1] == "naive")]
    runs = []
    checked = set()
    for repeat in range(repeats):
        # A new order in every repeat, so that no case always follows the same one.
        # Deleting the previous output (ext4 with discard) and writeback can slow the next run.
        order = list(cases)
        random.Random(repeat).shuffle(order)
        for form, tool, jobs in order:
            if strict:
                check = "strict"
            elif (form, tool) in checked or tool == "cp":
                check = "none"
            else:
                check = "spot"
                checked.add((form, tool))
            run = run_apply_case(context, sources, form, tool, jobs, repeat, check)
            runs.append(run)
            jobs_text = f" --jobs {jobs}" if jobs else ""
            print(
                f"[{label}] repeat {repeat + 1}/{repeats} {tool}{jobs_text} {form}: {run.seconds:.2f} s, "
                f"{format_size(run.output_bytes)}, peak RSS {run.max_rss_kib / 1024:.1f} MiB, {run.cache} cache",
                flush=True,
            )
    if strict:
        compare_kept_outputs(context)
    verify_runs = [] if verify_repeats == 0 else bench_verify(context, sources, verify_repeats, with_sha256sum)
    shutil.rmtree(sources.hf.parent)
    return runs, verify_runs, sources.info


def tensor_files(form: str, path: Path) -> list:
    """Return the files that contain tensors: the shards of a folder, or the GGUF file itself."""
    return sorted(path.glob("*.safetensors")) if form == "hf" else [path]


def bench_verify(context: Context, sources: Sources, repeats: int, with_sha256sum: bool) -> list:
    """Time `rysc verify` against streaming SHA-256 hashes of the same source and output files.

    rysc verify hashes every source tensor once and every output tensor, which is about
    the bytes of the source and output tensor files. The baselines hash those files whole.
    """
    runs = []
    for form in ("hf", "gguf"):
        source = sources.hf if form == "hf" else sources.gguf
        out_parent = context.workdir / f"verify-{form}"
        shutil.rmtree(out_parent, ignore_errors=True)
        out_parent.mkdir()
        out = out_parent / ("hf" if form == "hf" else "model.gguf")
        applied = subprocess.run([str(context.rysc), "apply", str(context.recipe), str(source), str(out)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if applied.returncode != 0:
            context.problems.append(f"rysc apply for the verify benchmark failed: {applied.stderr.decode()[-300:]}")
            continue
        files = [str(path) for path in tensor_files(form, source) + tensor_files(form, out)]
        hashed_bytes = sum(os.path.getsize(path) for path in files)
        cases = {
            "rysc verify": [str(context.rysc), "verify", str(context.recipe), str(source), str(out)],
            "hashlib": [sys.executable, str(BENCH_DIR / "hash_files.py"), *files],
        }
        # sha256sum is portable C (about 200 MiB/s here), so it runs only at the first size.
        if with_sha256sum:
            cases["sha256sum"] = ["sha256sum", *files]
        for repeat in range(repeats):
            order = list(cases.items())
            random.Random(repeat).shuffle(order)
            for tool, command in order:
                process, times, cache = run_measured(context, command)
                if process.returncode != 0:
                    context.problems.append(f"{tool} on {form} exited with {process.returncode}")
                runs.append({"size": sources.label, "form": form, "tool": tool, "repeat": repeat,
                             "seconds": round(times["command_seconds"], 3), "bytes": hashed_bytes,
                             "max_rss_kib": times["max_rss_kib"], "cache": cache, "exit_code": process.returncode})
                print(f"[{sources.label}] verify repeat {repeat + 1}/{repeats} {tool} {form}: "
                      f"{times['command_seconds']:.2f} s for {format_size(hashed_bytes)}, {cache} cache", flush=True)
        shutil.rmtree(out_parent, ignore_errors=True)
    return runs


def summarize_verify(runs: list) -> list:
    """Return one row per size, form and tool with the median time and the ratio to each baseline."""
    groups = {}
    for run in runs:
        if run["exit_code"] == 0:
            groups.setdefault((run["size"], run["form"], run["tool"]), []).append(run)
    rows = []
    for (size, form, tool), group in groups.items():
        seconds = statistics.median(run["seconds"] for run in group)
        rows.append({"size": size, "form": form, "tool": tool, "runs": len(group), "median_seconds": seconds,
                     "bytes": group[0]["bytes"], "throughput_bytes_per_second": int(group[0]["bytes"] / seconds),
                     "max_rss_kib": max(run["max_rss_kib"] for run in group)})
    for row in rows:
        for baseline in ("hashlib", "sha256sum"):
            reference = [r for r in rows if (r["size"], r["form"], r["tool"]) == (row["size"], row["form"], baseline)]
            if reference:
                row[f"ratio_to_{baseline}"] = round(reference[0]["median_seconds"] / row["median_seconds"], 3)
    return rows


def bench_vocab(context: Context, vocab: int, repeats: int) -> dict:
    """Measure `rysc apply` on tiny checkpoints whose tokenizer has vocab tokens.

    The sized checkpoints scale the vocabulary with the widths. This run separates the
    memory that grows with the tokenizer from the memory that grows with the tensor bytes.
    """
    folder = context.workdir / "vocab"
    folder.mkdir()
    widths = synth.Widths(1, vocab)
    info = {
        "hf": synth.write_hf_checkpoint(folder / "hf", widths, 2),
        "gguf": synth.write_gguf_checkpoint(folder / "model.gguf", widths),
    }
    sources = Sources(f"vocab{vocab}", folder / "hf", folder / "model.gguf", info)
    runs = []
    for repeat in range(repeats):
        for form in ("hf", "gguf"):
            check = "spot" if repeat == 0 else "none"
            runs.append(run_apply_case(context, sources, form, "rysc", None, repeat, check))
    shutil.rmtree(folder)
    result = {"vocab": vocab, "generated": info, "runs": [run.__dict__ for run in runs]}
    for form in ("hf", "gguf"):
        rss = [run.max_rss_kib for run in runs if run.form == form and run.exit_code == 0]
        result[f"{form}_max_rss_kib"] = max(rss) if rss else None
        print(f"[vocab] rysc apply {form} with a {vocab}-token vocabulary, "
              f"{format_size(info[form]['bytes'])}: peak RSS {max(rss) / 1024 if rss else float('nan'):.1f} MiB", flush=True)
    return result


# ---------------------------------------------------------------------------
# Plan benchmark


STRACE_LINE = re.compile(r"^(?:\d+\s+)?(\w+)\(\d+<([^>]*)>.*=\s*(-?\d+|0x[0-9a-f]+)")


def strace_shard_reads(context: Context, command: list) -> Optional[dict]:
    """Count what command reads from *.safetensors files, using strace -y. Returns None without strace.

    Otherwise returns the bytes returned by read, pread64, readv and preadv per shard path, and the
    shard paths that were mapped with mmap (a mapping could read tensor data unseen).
    """
    if shutil.which("strace") is None:
        context.notes.append("strace is not installed, so the bytes read by rysc plan were not counted")
        return None
    # -ff writes one log per thread, so no call is split into "unfinished" and "resumed" lines.
    log_folder = context.workdir / "strace"
    log_folder.mkdir()
    calls = "trace=read,pread64,readv,preadv,mmap"
    subprocess.run(["strace", "-ff", "-qq", "-y", "-e", calls, "-o", str(log_folder / "log"), *command],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    reads, mapped = {}, set()
    for log in log_folder.iterdir():
        for line in log.read_text(errors="replace").splitlines():
            match = STRACE_LINE.match(line)
            if not match or not match[2].endswith(".safetensors"):
                continue
            if match[1] == "mmap":
                mapped.add(match[2])
            elif not match[3].startswith(("-", "0x")):
                reads[match[2]] = reads.get(match[2], 0) + int(match[3])
    shutil.rmtree(log_folder)
    return {"bytes": reads, "mapped": sorted(mapped)}


def bench_plan(context: Context, shards: int, experts: int, repeats: int) -> dict:
    folder = context.workdir / "plan-moe"
    started = time.perf_counter()
    info = synth.write_sparse_moe_checkpoint(folder, shards, experts)
    os.sync()
    info["generate_seconds"] = round(time.perf_counter() - started, 2)
    used = int(subprocess.run(["du", "-sb", str(folder)], capture_output=True, text=True).stdout.split()[0])
    allocated = int(subprocess.run(["du", "-sB1", str(folder)], capture_output=True, text=True).stdout.split()[0])
    info["allocated_bytes"] = allocated
    print(
        f"[plan] generated {info['shards']} shards, {info['tensors']} tensors, apparent size "
        f"{format_size(used)}, allocated on disk {format_size(allocated)} ({info['generate_seconds']} s)",
        flush=True,
    )
    command = [str(context.rysc), "plan", str(context.recipe), str(folder)]
    runs = []
    # The cold run leaves config, index and headers in the page cache for the warm run.
    modes = ("cold", "warm") if context.drop_caches else ("warm",)
    for repeat in range(repeats):
        for mode in modes:
            dropping = context.drop_caches
            context.drop_caches = dropping and mode == "cold"
            process, times, cache = run_measured(context, command)
            context.drop_caches = dropping
            if process.returncode != 0:
                message = process.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
                context.problems.append(f"rysc plan exited with {process.returncode}: {' | '.join(message)}")
            runs.append({"repeat": repeat, "cache": cache, "seconds": round(times["command_seconds"], 4),
                         "max_rss_kib": times["max_rss_kib"], "user_seconds": times["user_seconds"],
                         "system_seconds": times["system_seconds"], "exit_code": process.returncode})
            print(f"[plan] repeat {repeat + 1}/{repeats} {cache} cache: {times['command_seconds']:.3f} s, "
                  f"peak RSS {times['max_rss_kib'] / 1024:.1f} MiB", flush=True)

    traced = strace_shard_reads(context, command)
    read_bytes = None
    if traced is not None:
        read_bytes = sum(traced["bytes"].values())
        for path, count in traced["bytes"].items():
            with open(path, "rb") as shard:
                header_size = 8 + int.from_bytes(shard.read(8), "little")
            if count > header_size:
                context.problems.append(f"rysc plan read {count} bytes of {path}, whose header is {header_size} bytes")
        for path in traced["mapped"]:
            context.problems.append(f"rysc plan mapped {path} with mmap")
    shutil.rmtree(folder)
    return {"checkpoint": info, "command": " ".join(command), "runs": runs, "read_bytes": read_bytes}


# ---------------------------------------------------------------------------
# Report


def summarize(runs: list) -> list:
    """Return one row per case with medians, and throughput ratios to cp of the same size and form."""
    cases = {}
    for run in runs:
        if run.exit_code == 0:
            cases.setdefault(run.case, []).append(run)
    rows = []
    for (label, form, tool, jobs), group in cases.items():
        seconds = statistics.median(run.seconds for run in group)
        output_bytes = statistics.median(run.output_bytes for run in group)
        rows.append({
            "size": label, "form": form, "tool": tool, "jobs": jobs, "runs": len(group),
            "median_seconds": round(seconds, 3),
            "median_command_seconds": round(statistics.median(run.command_seconds for run in group), 3),
            "output_bytes": int(output_bytes),
            "throughput_bytes_per_second": int(output_bytes / seconds),
            "max_rss_kib": max(run.max_rss_kib for run in group),
            "median_cpu_seconds": round(statistics.median(run.user_seconds + run.system_seconds for run in group), 2),
        })
    for row in rows:
        reference = [r for r in rows if (r["size"], r["form"], r["tool"]) == (row["size"], row["form"], "cp")]
        if reference:
            row["ratio_to_cp"] = round(row["throughput_bytes_per_second"] / reference[0]["throughput_bytes_per_second"], 3)
    return rows


def print_table(rows: list, plan: Optional[dict]) -> None:
    header = f"{'size':>7} {'form':>4} {'tool':<13} {'median s':>9} {'written':>10} {'MiB/s':>7} {'x cp':>5} {'peak RSS':>10} {'CPU s':>6}"
    if rows:
        print("\n" + header)
        print("-" * len(header))
    for row in rows:
        tool = row["tool"] + (f" --jobs {row['jobs']}" if row["jobs"] else "")
        print(
            f"{row['size']:>7} {row['form']:>4} {tool:<13} {row['median_seconds']:>9.2f} "
            f"{format_size(row['output_bytes']):>10} {row['throughput_bytes_per_second'] / (1 << 20):>7.0f} "
            f"{row.get('ratio_to_cp', float('nan')):>5.2f} {row['max_rss_kib'] / 1024:>6.1f} MiB {row['median_cpu_seconds']:>6.2f}"
        )
    if plan:
        for cache in ("cold", "warm"):
            times = [run["seconds"] for run in plan["runs"] if run["cache"] == cache and run["exit_code"] == 0]
            if times:
                rss = max(run["max_rss_kib"] for run in plan["runs"] if run["cache"] == cache) / 1024
                print(f"\nrysc plan, {plan['checkpoint']['shards']} shards, {plan['checkpoint']['tensors']} tensors, "
                      f"{cache} cache: median {statistics.median(times):.3f} s over {len(times)} runs, peak RSS {rss:.1f} MiB")
        if plan["read_bytes"] is not None:
            print(f"rysc plan read {plan['read_bytes']} bytes from the shards, whose headers hold "
                  f"{plan['checkpoint']['header_bytes']} bytes (strace -y)")


def command_output(command: list) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine_info(workdir: Path, rysc: Path) -> dict:
    lscpu = command_output(["lscpu"])
    model = re.search(r"Model name:\s*(.+)", lscpu)
    meminfo = Path("/proc/meminfo").read_text()
    usage = shutil.disk_usage(workdir)
    binary = rysc.read_bytes()
    return {
        "cpu": model[1].strip() if model else platform.processor(),
        "cpus": os.cpu_count(),
        "memory_kib": int(re.search(r"MemTotal:\s*(\d+)", meminfo)[1]),
        "kernel": platform.release(),
        "filesystem": command_output(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", str(workdir)]),
        "disk_free_bytes": usage.free,
        "python": platform.python_version(),
        "cp": command_output(["cp", "--version"]).splitlines()[0] if command_output(["cp", "--version"]) else "",
        "rysc_version": command_output([str(rysc), "--version"]),
        "rysc_sha256": hashlib.sha256(binary).hexdigest(),
        "git_head": command_output(["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"]),
        "git_dirty_files": len(command_output(["git", "-C", str(REPO_DIR), "status", "--porcelain"]).splitlines()),
        "load_average_at_start": os.getloadavg(),
    }


# ---------------------------------------------------------------------------
# Main


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)

    parser.add_argument("--size", default="4GiB", help="checkpoint sizes, comma-separated (default 4GiB), e.g. 1GiB,4GiB")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every case (default 3)")
    parser.add_argument("--smoke", action="store_true", help="a few MiB, 1 repeat, 20-shard plan checkpoint, strict checks")
    parser.add_argument("--rysc", type=Path, default=REPO_DIR / "build" / "rysc", help="rysc binary (default build/rysc)")
    parser.add_argument("--workdir", type=Path, help="folder in which a new work folder for checkpoints and outputs is made (default: the system temp folder)")
    parser.add_argument("--results", type=Path, help="JSON results file (default bench/results/DATE-SIZES.json, and none for --smoke)")
    parser.add_argument("--text-shard-size", type=parse_size, default=parse_size("512MiB"), help="language-model bytes per source shard (default 512MiB)")

    parser.add_argument("--plan-shards", type=int, default=1000, help="shards of the sparse plan checkpoint (default 1000)")
    parser.add_argument("--plan-experts", type=int, default=512, help="experts per layer of the sparse plan checkpoint (default 512)")
    parser.add_argument("--skip-plan", action="store_true", help="do not run the plan benchmark")
    parser.add_argument("--skip-apply", action="store_true", help="run only the plan benchmark")
    parser.add_argument("--skip-naive", action="store_true", help="do not run naive_copy.py")
    parser.add_argument("--verify-repeats", type=int, default=3, help="runs of rysc verify and of the streaming hashes (default 3, 0 skips them)")
    parser.add_argument("--vocab", type=int, default=248320, help="tokens in the tokenizer of the memory check (default 248320, 0 skips the check)")
    parser.add_argument("--no-drop-caches", action="store_true", help="keep the page cache between runs (warm-cache runs)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder instead of deleting it at the end")

    args = parser.parse_args(argv)
    try:
        args.sizes = [parse_size(part) for part in args.size.split(",")]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))

    if args.smoke:
        args.sizes = [4 << 20]
        args.repeats = 1
        args.plan_shards = 20
        args.plan_experts = 16
        args.text_shard_size = 1 << 20
        args.vocab = 20000
        args.verify_repeats = 1
        args.no_drop_caches = True

    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if not args.rysc.is_file():
        parser.error(f"rysc binary {args.rysc} not found; build it with `cmake --build build --target rysc` or pass --rysc")
    if not Path(TIME_BINARY).is_file():
        parser.error(f"{TIME_BINARY} not found; install it with `apt-get install time`")
    return args


def check_disk_space(workdir: Path, sizes: list) -> Optional[str]:
    """Return an error message when the work folder cannot hold both sources and one output of the largest size."""
    largest = max(sizes)
    needed = int(largest * 2 + largest * 1.1) + (1 << 30)
    free = shutil.disk_usage(workdir).free
    if free < needed:
        return f"{workdir} has {format_size(free)} free, but a {format_size(largest)} run needs about {format_size(needed)}"
    return None


def main(argv=None) -> int:
    args = parse_args(argv)
    # A new folder, even inside --workdir, so that the cleanup removes only what this run wrote.
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="rysc-bench-", dir=args.workdir))
    problem = check_disk_space(workdir, args.sizes) if not args.skip_apply else None
    if problem:
        print(f"run.py: error: {problem}", file=sys.stderr)
        return 2
    recipe = workdir / "rys-15-20.rys"
    recipe.write_text(RECIPE)
    context = Context(args.rysc.resolve(), workdir, recipe, not args.no_drop_caches)
    machine = machine_info(workdir, context.rysc)
    started = datetime.datetime.now(datetime.timezone.utc)
    runs, verify_runs, generated, plan, vocab = [], [], {}, None, None
    try:
        if not args.skip_apply:
            for size in args.sizes:
                size_runs, size_verify_runs, info = bench_apply(context, size, args.repeats, args.text_shard_size,
                                                                args.smoke, args.skip_naive, args.verify_repeats,
                                                                size == args.sizes[0])
                runs += size_runs
                verify_runs += size_verify_runs
                generated[format_size(size).replace(" ", "")] = info
            if args.vocab:
                vocab = bench_vocab(context, args.vocab, args.repeats)
        if not args.skip_plan:
            plan = bench_plan(context, args.plan_shards, args.plan_experts, args.repeats)
    finally:
        if args.keep:
            print(f"kept the work folder {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    rows = summarize(runs)
    verify_rows = summarize_verify(verify_runs)
    if rows or plan:
        print_table(rows, plan)
    for row in verify_rows:
        print(f"{row['size']:>7} {row['form']:>4} {row['tool']:<12} {row['median_seconds']:>7.2f} s "
              f"{row['throughput_bytes_per_second'] / (1 << 20):>6.0f} MiB/s, x hashlib {row.get('ratio_to_hashlib', float('nan')):.2f}, "
              f"x sha256sum {row.get('ratio_to_sha256sum', float('nan')):.2f}")
    for note in context.notes:
        print(f"note: {note}")
    results = {
        "schema": "rysc-bench/1",
        "started": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "recipe": RECIPE,
        "cache": "dropped before every run" if context.drop_caches else "warm (not dropped)",
        "machine": machine,
        "generated": generated,
        "summary": rows,
        "runs": [run.__dict__ for run in runs],
        "verify_summary": verify_rows,
        "verify_runs": verify_runs,
        "vocab": vocab,
        "plan": plan,
        "load_average_at_end": os.getloadavg(),
        "notes": context.notes,
        "problems": context.problems,
    }
    results_path = args.results
    if results_path is None and not args.smoke:
        sizes = "-".join(format_size(size).replace(" ", "") for size in args.sizes) if not args.skip_apply else "plan"
        results_path = BENCH_DIR / "results" / f"{started:%Y%m%d-%H%M%S}-{sizes}.json"
    if results_path:
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nresults: {results_path}")
    if context.problems:
        print(f"\n{len(context.problems)} problem(s):", file=sys.stderr)
        for problem in context.problems[:20]:
            print(f"  {problem}", file=sys.stderr)
        if len(context.problems) > 20:
            print(f"  ... and {len(context.problems) - 20} more in the results file", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
