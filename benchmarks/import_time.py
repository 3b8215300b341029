"""What ``import wsone_async`` costs on top of ``import aiohttp``, in fresh processes.

Run: ``python benchmarks/import_time.py [--rounds N]``.

Each measurement is a new interpreter that times one import statement in CPU time
(``time.process_time``: the time the process waits for a core on a busy machine is not
counted; interpreter start-up is the same for both sides and left out). The
two imports are measured in paired rounds in ABBA order (aiohttp first in one round,
wsone_async first in the next), so the machine's drift hits both sides of a pair alike. The
script prints the medians, the median of the pairs' differences and ratios, and their
spread. wsone_async imports aiohttp itself: the difference is what this library adds.
Target: at most 80 ms more than ``import aiohttp``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

TARGET_MS = 80.0

_PROBE = (
    "import time; t = time.process_time(); import {module}; print((time.process_time() - t) * 1000)"
)


def import_ms(module: str) -> float:
    """CPU milliseconds one fresh interpreter takes to ``import module``."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out)


def _spread(values: list[float], fmt: str) -> str:
    return f"spread {format(min(values), fmt)} to {format(max(values), fmt)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="paired rounds")
    args = parser.parse_args(argv)
    for module in ("aiohttp", "wsone_async"):  # warm up: bytecode caches, the disk cache
        import_ms(module)
    base: list[float] = []
    ours: list[float] = []
    for round_number in range(args.rounds):
        if round_number % 2 == 0:
            a, b = import_ms("aiohttp"), import_ms("wsone_async")
        else:
            b, a = import_ms("wsone_async"), import_ms("aiohttp")
        base.append(a)
        ours.append(b)
    differences = [b - a for a, b in zip(base, ours, strict=True)]
    ratios = [b / a for a, b in zip(base, ours, strict=True)]
    extra = statistics.median(differences)
    print(f"import time in fresh processes, {args.rounds} paired rounds (ABBA)")
    print(f"  import aiohttp:     {statistics.median(base):6.1f} ms median")
    print(f"  import wsone_async: {statistics.median(ours):6.1f} ms median (aiohttp included)")
    print(
        f"  wsone_async - aiohttp: {extra:+.1f} ms median, {_spread(differences, '+.1f')} ms "
        f"(target <= +{TARGET_MS:.0f} ms)"
    )
    print(
        f"  ratio wsone_async / aiohttp: {statistics.median(ratios):.2f}x median, "
        f"{_spread(ratios, '.2f')}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
