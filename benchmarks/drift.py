"""What drift detection adds to decoding an answer that fits its model (the success path).

Run: ``python benchmarks/drift.py``.

For each answer, A decodes it as the client does (``decode_reply``: status, JSON, envelope,
model) and B does the same then hands the model to ``DriftMonitor.notice``. They run in
paired rounds in ABBA order; each round's ratio B/A is kept, and the median and spread of
the ratios are printed, with the time ``notice`` adds per answer. ``benchmarks/client.py``
measures a whole call (about 200 us of client time per createPerson at concurrency 64
when this was written), against which these microseconds are to be read.
"""

from __future__ import annotations

import gc
import pathlib
import statistics
import sys
import timeit
from typing import Any

from wsone_async._drift import DriftMonitor
from wsone_async._transport import Reply, decode_reply
from wsone_async.models import CreatePersonResponse, GetAccountsResponse, GetFullPersonResponse

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
ACCOUNTS = (
    b'{"responseCode": "000", "infos": "2 account(s) found", "AccountResponse": ['
    b'{"name": "visites", "value": 1, "unit": "visites", "EntityResponse": '
    b'{"entityIdentifier": "111111"}}, {"name": "point", "value": 17, "unit": "pts", '
    b'"EntityResponse": {"entityIdentifier": "111111"}}]}'
)
ANSWERS: list[tuple[str, bytes, type[Any]]] = [
    (
        "getFullPerson (vendor example)",
        (DATA / "getFullPerson_response.json").read_bytes(),
        GetFullPersonResponse,
    ),
    (
        "createPerson (vendor example)",
        (DATA / "createPerson_response.json").read_bytes(),
        CreatePersonResponse,
    ),
    ("getAccounts", ACCOUNTS, GetAccountsResponse),
]
ROUNDS = 11
NUMBER = 5_000


def main() -> int:
    monitor = DriftMonitor()
    print("drift on the success path: decode_reply (A) vs decode_reply + notice (B)")
    print("indicative only on a loaded machine; ratios are B/A over paired ABBA rounds")
    for name, body, cls in ANSWERS:
        reply = Reply(200, None, body)

        def plain(reply: Reply = reply, cls: type[Any] = cls) -> None:
            decode_reply(reply, cls, operation="x")

        def watched(reply: Reply = reply, cls: type[Any] = cls) -> None:
            monitor.notice("x", decode_reply(reply, cls, operation="x"))

        watched()
        assert not monitor.counts, f"{name}: the answer does not fit its model"
        ratios, added = [], []
        gc.collect()
        for _ in range(ROUNDS):
            a1 = timeit.timeit(plain, number=NUMBER)
            b1 = timeit.timeit(watched, number=NUMBER)
            b2 = timeit.timeit(watched, number=NUMBER)
            a2 = timeit.timeit(plain, number=NUMBER)
            ratios.append((b1 + b2) / (a1 + a2))
            added.append(((b1 + b2) - (a1 + a2)) / (2 * NUMBER) * 1e6)
        print(
            f"  {name:32s} B/A median {statistics.median(ratios):.3f} "
            f"(spread {min(ratios):.3f}-{max(ratios):.3f}); "
            f"notice adds {statistics.median(added):.2f} us per answer"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
