"""Bulk prospect import: rows/s and peak RSS of ``import_prospects`` against a semaphore loop.

Run: ``python benchmarks/bulk.py`` (sizes 10000 and 100000, concurrency 32, 3 rounds), or
quicker: ``python benchmarks/bulk.py --sizes 2000,20000``; ``--concurrency N``, ``--rounds N``
and ``--dedupe-rounds N`` (how many rounds also run ``dedupe=True``, 1 by default) tune it.
Progress goes to stderr, the report to stdout.

The WsOne simulator runs in a separate process (``SimulatorProcess``) and is reset
(``POST /_control/reset``) before every import. Each import runs in its own fresh Python
process (``_bulk_worker.py``), which reads generated rows lazily from a generator (never a
list), turns each into a request with ``prospect_from_row``, and reports as JSON on stdout
its rows/s, its CPU time and its peak RSS at the end. The peak RSS is the kernel's ``VmHWM``
of that process: on Linux ``ru_maxrss`` survives ``execve``, so a fresh child reports at
least the RSS its parent had when it forked (see ``_bulk_worker._peak_rss_kib``). Three
methods, all with the same ``WsOneClient`` settings (the defaults) and the same concurrency:

* ``semaphore``: the simplest correct hand-written loop, the README's ``asyncio.Semaphore``
  around ``client.create_person``; its tasks are fed from the same generator with at most
  ``2 * concurrency`` pending, so its memory is bounded too. One request per row.
* ``import_prospects(dedupe=False)``: also one request per row (ambiguous outcomes are
  settled by a lookup only when one happens): the fair comparison, the headline ratio.
* ``import_prospects(dedupe=True)``, the default: getPerson before createPerson, two
  requests per row; reported for information, without a target.

The machine is small and noisy: in each round the first two are run back to back, each
going first in turn, and the throughput ratio is the median of the rounds' ratios; rows/s
and RSS are medians over the rounds. The CPU time per row of the importing process and of
the simulator (psutil) are printed too: with two cores each side has about one, so the
busier side sets the rows/s, and CPU time is far less disturbed by other work than rows/s.
After every import the simulator's state is checked (``GET /_control/state``): exactly
``size`` persons, no identifier shared by two persons, and every row reported created.

Targets: peak RSS at the largest size at most 1.2x that at the smallest (the input must
not be held in memory), and ``import_prospects(dedupe=False)`` at least 0.8x the rows/s of
the semaphore loop.

The file suite (``--suite files``, run after the memory suite by default) imports the same
``--file-rows`` rows (20,000) written to a CSV file, four ways, in ``--file-rounds`` rounds
whose order flips every round (A B C D, then D C B A: ABBA for every pair):

* the semaphore loop fed by ``read_rows(file)``;
* ``import_prospects(dedupe=False)`` fed by ``aread_rows(file)``, as the README recommends
  (target: at least 0.9x the semaphore loop);
* the ``wsone import`` command (``--dedupe none``) on the file (target: at least 0.9x
  ``import_prospects`` on the same rows), and the same with ``--journal`` (target: 0.85x).

The command's rows/s come from its ``--summary-json`` (the import itself, without the
interpreter's start-up), as the workers' come from ``run_import``. Ratios are printed as
the median of the rounds' ratios with their spread (lowest-highest).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import Any

import psutil

from wsone_async.testing import SimulatorProcess

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _bulk_worker import PASSWORD_ENV, write_csv  # noqa: E402  (a sibling module)

BASELINE, HEADLINE, DEDUPE = "semaphore", "dedupe-off", "dedupe-on"
LABELS = {
    BASELINE: "semaphore + create_person",
    HEADLINE: "import_prospects(dedupe=False)",
    DEDUPE: "import_prospects(dedupe=True)",
}
THROUGHPUT_TARGET = 0.8
MEMORY_TARGET = 1.2


class Control:
    """The simulator's ``/_control`` endpoints, from this (synchronous) process."""

    def __init__(self, sim: SimulatorProcess) -> None:
        self._url = sim.url
        token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}

    def _call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self._url}/_control/{path}", method=method, headers=self._headers
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def reset(self) -> dict[str, Any]:
        return self._call("POST", "reset")

    def state(self) -> dict[str, Any]:
        return self._call("GET", "state")


def simulator_process() -> psutil.Process:
    """The simulator's process (our only child running ``wsone_async.testing._serve``)."""
    for child in psutil.Process().children():
        if "wsone_async.testing._serve" in child.cmdline():
            return child
    msg = "the simulator process was not found"
    raise RuntimeError(msg)


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def import_once(
    sim: SimulatorProcess,
    server: psutil.Process,
    control: Control,
    method: str,
    size: int,
    concurrency: int,
    file: str | None = None,
) -> dict[str, Any]:
    """Reset the simulator, run one import in a fresh process, check the simulator's state."""
    state = control.reset()
    if state["persons"] != 0:
        msg = f"the simulator still holds {state['persons']} persons after a reset"
        raise RuntimeError(msg)
    command = [
        sys.executable,
        str(HERE / "_bulk_worker.py"),
        *("--url", sim.url, "--username", sim.username),
        *("--method", method, "--size", str(size), "--concurrency", str(concurrency)),
        *(("--file", file) if file else ()),
    ]
    server_cpu = _cpu_seconds(server)
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, PASSWORD_ENV: sim.password},
        check=False,
    )
    if done.returncode != 0:
        msg = f"{method} {size}: the import process failed:\n{done.stderr}"
        raise RuntimeError(msg)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["server_cpu_us_per_row"] = (_cpu_seconds(server) - server_cpu) / size * 1e6
    state = control.state()
    problems = []
    if state["persons"] != size:
        problems.append(f"the simulator holds {state['persons']} persons, not {size}")
    if state["sharedIdentifiers"] != 0:
        problems.append(f"{state['sharedIdentifiers']} identifiers shared by two persons")
    counts = result["counts"]
    if counts["created"] != size or sum(counts.values()) != size:
        problems.append(f"the import reported {counts}")
    if problems:
        msg = f"{method} {size}: " + "; ".join(problems)
        raise RuntimeError(msg)
    result["requests_per_row"] = sum(state["requests"].values()) / size
    result["growth_kib"] = result["peak_rss_kib"] - result["start_rss_kib"]
    return result


def _mib(kib: float) -> float:
    return kib / 1024


FILE_METHODS = ("semaphore-file", "aread", "cli", "cli-journal")
FILE_LABELS = {
    "semaphore-file": "semaphore loop <- read_rows(file)",
    "aread": "import_prospects <- aread_rows(file)",
    "cli": "wsone import --dedupe none",
    "cli-journal": "wsone import --dedupe none --journal",
}
#: (method, compared with, target)
FILE_TARGETS = (
    ("aread", "semaphore-file", 0.9),
    ("cli", "aread", 0.9),
    ("cli-journal", "aread", 0.85),
)


def cli_once(
    sim: SimulatorProcess,
    control: Control,
    size: int,
    concurrency: int,
    file: str,
    workdir: pathlib.Path,
    *,
    journal: bool,
) -> dict[str, Any]:
    """Reset the simulator, run ``wsone import`` on the file, check the simulator's state."""
    control.reset()
    summary = workdir / "summary.json"
    command = [
        sys.executable, "-m", "wsone_async", "import", file,
        "--base-url", sim.url, "--user", sim.username,
        "--dedupe", "none", "--concurrency", str(concurrency), "--summary-json", str(summary),
    ]  # fmt: skip
    if journal:
        path = workdir / "import.journal"
        path.unlink(missing_ok=True)
        command += ["--journal", str(path)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "WSONE_PASSWORD": sim.password},
        check=False,
    )
    report = json.loads(summary.read_text()) if summary.exists() else {}
    summary.unlink(missing_ok=True)
    state = control.state()
    if done.returncode != 0 or report.get("created") != size or state["persons"] != size:
        msg = f"wsone import {size}: status {done.returncode}, {report}:\n{done.stderr}"
        raise RuntimeError(msg)
    return {"rows_per_s": size / report["seconds"], "seconds": report["seconds"]}


def file_suite(size: int, rounds: int, concurrency: int, started: float) -> tuple[str, bool]:
    """The four ways on one file, in flipping order; returns the report and PASS."""
    import tempfile

    runs: dict[str, list[float]] = {method: [] for method in FILE_METHODS}
    ratios: dict[tuple[str, str], list[float]] = {(a, b): [] for a, b, _ in FILE_TARGETS}
    with tempfile.TemporaryDirectory() as tmp, SimulatorProcess() as sim:
        workdir = pathlib.Path(tmp)
        file = str(workdir / "prospects.csv")
        write_csv(file, size)
        control = Control(sim)
        server = simulator_process()
        for round_number in range(rounds):
            order = FILE_METHODS if round_number % 2 == 0 else FILE_METHODS[::-1]
            rate: dict[str, float] = {}
            for method in order:
                if method.startswith("cli"):
                    result = cli_once(
                        sim, control, size, concurrency, file, workdir,
                        journal=method == "cli-journal",
                    )  # fmt: skip
                else:
                    result = import_once(sim, server, control, method, size, concurrency, file)
                rate[method] = result["rows_per_s"]
                runs[method].append(rate[method])
                print(
                    f"  [{time.monotonic() - started:6.0f}s] file {size} rows"
                    f" round {round_number + 1}/{rounds} {method:<14} {rate[method]:8.0f} rows/s",
                    file=sys.stderr,
                    flush=True,
                )
            for a, b in ratios:
                ratios[a, b].append(rate[a] / rate[b])
    lines = [
        f"The same {size} rows from a CSV file (concurrency {concurrency}; {rounds} rounds,"
        " order flipped each round; rows/s: median (lowest-highest)):",
    ]
    for method in FILE_METHODS:
        values = runs[method]
        lines.append(
            f"  {FILE_LABELS[method]:<40} {statistics.median(values):7.0f}"
            f" ({min(values):.0f}-{max(values):.0f})"
        )
    passed = True
    for a, b, target in FILE_TARGETS:
        values = ratios[a, b]
        ratio = statistics.median(values)
        ok = ratio >= target
        passed &= ok
        lines.append(
            f"  {FILE_LABELS[a]} / {FILE_LABELS[b]}: {ratio:.2f}x"
            f" ({min(values):.2f}-{max(values):.2f}; target >= {target}x)"
            f"  {'PASS' if ok else 'FAIL'}"
        )
    return "\n".join(lines), passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="comma-separated numbers of rows (default: %(default)s)",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="default: %(default)s")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per size (default: 3)")
    parser.add_argument(
        "--dedupe-rounds",
        type=int,
        default=1,
        help="rounds (the first ones) that also run dedupe=True (default: %(default)s)",
    )
    parser.add_argument(
        "--suite",
        choices=("all", "memory", "files"),
        default="all",
        help="the generator suite with memory (memory), the file and command suite (files), "
        "or both (default: %(default)s)",
    )
    parser.add_argument(
        "--file-rows", type=int, default=20000, help="rows of the file suite (default: %(default)s)"
    )
    parser.add_argument(
        "--file-rounds", type=int, default=4, help="rounds of the file suite (default: %(default)s)"
    )
    args = parser.parse_args()
    if args.suite == "files":
        started = time.monotonic()
        text, passed = file_suite(args.file_rows, args.file_rounds, args.concurrency, started)
        print(text)
        print(f"Overall: {'PASS' if passed else 'FAIL'}")
        print(f"({time.monotonic() - started:.0f}s)")
        return 0
    sizes = sorted({int(part) for part in args.sizes.split(",") if part.strip()})
    if not sizes or min(sizes) < 1 or args.concurrency < 1 or args.rounds < 1:
        parser.error("sizes, concurrency and rounds must be positive")
    dedupe_rounds = max(0, min(args.dedupe_rounds, args.rounds))
    methods = (BASELINE, HEADLINE, DEDUPE) if dedupe_rounds else (BASELINE, HEADLINE)

    runs: dict[tuple[int, str], list[dict[str, Any]]] = {}
    ratios: dict[tuple[int, str], list[float]] = {}
    started = time.monotonic()
    with SimulatorProcess() as sim:
        control = Control(sim)
        server = simulator_process()
        for size in sizes:
            for round_number in range(args.rounds):
                # The pair first, each side going first in turn; the dedupe run after it.
                order = [BASELINE, HEADLINE] if round_number % 2 == 0 else [HEADLINE, BASELINE]
                if round_number < dedupe_rounds:
                    order.append(DEDUPE)
                done = {}
                for method in order:
                    result = import_once(sim, server, control, method, size, args.concurrency)
                    done[method] = result
                    runs.setdefault((size, method), []).append(result)
                    print(
                        f"  [{time.monotonic() - started:6.0f}s] {size:>7} rows"
                        f" round {round_number + 1}/{args.rounds} {method:<10}"
                        f" {result['rows_per_s']:8.0f} rows/s"
                        f" peak {_mib(result['peak_rss_kib']):6.1f} MiB",
                        file=sys.stderr,
                        flush=True,
                    )
                for method in (m for m in order if m != BASELINE):
                    ratio = done[method]["rows_per_s"] / done[BASELINE]["rows_per_s"]
                    ratios.setdefault((size, method), []).append(ratio)

    print(report(runs, ratios, sizes, methods, args.concurrency))
    if args.suite == "all":
        text, _ = file_suite(args.file_rows, args.file_rounds, args.concurrency, started)
        print(text)
    print(f"({time.monotonic() - started:.0f}s)")
    return 0


def report(
    runs: dict[tuple[int, str], list[dict[str, Any]]],
    ratios: dict[tuple[int, str], list[float]],
    sizes: list[int],
    methods: tuple[str, ...],
    concurrency: int,
) -> str:
    """The table of medians, then the two target ratios with PASS or FAIL."""

    def median(size: int, method: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[size, method])

    lines = [
        "Bulk prospect import against the WsOne simulator in another process"
        f" (concurrency {concurrency}; each import in a fresh process; medians over the runs)",
        f"  {'rows':>7}  {'method':<31} {'runs':>4} {'req/row':>7} {'rows/s':>7}"
        f" {'CPU us/row':>10} {'sim CPU':>7} {'peak RSS MiB':>12} {'growth MiB':>10}",
    ]
    for size in sizes:
        for method in methods:
            lines.append(
                f"  {size:>7}  {LABELS[method]:<31} {len(runs[size, method]):>4}"
                f" {median(size, method, 'requests_per_row'):7.2f}"
                f" {median(size, method, 'rows_per_s'):7.0f}"
                f" {median(size, method, 'cpu_us_per_row'):10.0f}"
                f" {median(size, method, 'server_cpu_us_per_row'):7.0f}"
                f" {_mib(median(size, method, 'peak_rss_kib')):12.1f}"
                f" {_mib(median(size, method, 'growth_kib')):10.1f}"
            )
    lines += [
        "  (CPU us/row: the importing process's CPU per row; sim CPU: the simulator's, in us",
        "   per row; with 2 cores, each side has about one: the busier one sets rows/s.",
        "   growth: peak RSS minus the peak before the first row. Every import was checked:",
        "   the simulator then held exactly <rows> persons, none sharing an identifier)",
        "",
        "Throughput of import_prospects(dedupe=False) / the semaphore loop"
        f" (median of paired ratios; target >= {THROUGHPUT_TARGET}x):",
    ]
    passed = True
    for size in sizes:
        ratio = statistics.median(ratios[size, HEADLINE])
        ok = ratio >= THROUGHPUT_TARGET
        passed &= ok
        lines.append(f"  {size:>7} rows: {ratio:.2f}x  {'PASS' if ok else 'FAIL'}")
    if DEDUPE in methods:
        lines.append(
            "Throughput of import_prospects(dedupe=True) / the semaphore loop"
            " (getPerson + createPerson per row; no target, for information):"
        )
        for size in sizes:
            ratio = statistics.median(ratios[size, DEDUPE])
            lines.append(f"  {size:>7} rows: {ratio:.2f}x")
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        lines.append(f"Peak RSS at {large} rows / at {small} rows (target <= {MEMORY_TARGET}x):")
        for method in (HEADLINE, DEDUPE, BASELINE):
            if method not in methods:
                continue
            ratio = median(large, method, "peak_rss_kib") / median(small, method, "peak_rss_kib")
            if method == BASELINE:
                verdict = "(reference, no target)"
            else:
                ok = ratio <= MEMORY_TARGET
                passed &= ok
                verdict = "PASS" if ok else "FAIL"
            lines.append(f"  {LABELS[method]:<31} {ratio:.2f}x  {verdict}")
    lines.append(f"Overall: {'PASS' if passed else 'FAIL'}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
