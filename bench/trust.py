"""Trust evaluation benchmark: cold and warm ``TrustContext.evaluate`` for a demo signer.

Run: ``.venv/bin/python bench/trust.py`` (``--quick`` for a shorter run). Prints figures; asserts nothing
beyond every decision being PASSED.

- *cold*: a new context from the recognised trust lists (its index built) and its first evaluation;
- *warm*: further evaluations of the same signer on that context (a gateway's steady state);
- *warm, other moment*: ``context.at(moment)`` and one evaluation (a receipt or an "as of" check).

The machine may be shared: compare figures of one run (or ratios), not absolute times across runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from _common import banner, finished  # noqa: E402

from exchange._pki import build_country_pki, demo_country  # noqa: E402
from exchange._trust import Recognition, TrustContext, TrustStatus  # noqa: E402
from exchange._trustlist import TrustList  # noqa: E402

MOMENT = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
COO = "certificate-of-origin"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    cold_runs, warm_runs = (10, 200) if args.quick else (40, 1000)
    started = time.perf_counter()
    banner("ptx trust evaluation benchmark: TrustContext.evaluate, cold and warm" + (" (--quick)" if args.quick else ""))

    aa = build_country_pki(demo_country("AA"), moment=MOMENT)
    bb = build_country_pki(demo_country("BB"), moment=MOMENT)
    lists = [
        TrustList.from_pki(pki, sequence_number=1, issued_at=MOMENT - timedelta(hours=1),
                           granted_since=MOMENT - timedelta(days=1))
        for pki in (aa, bb)
    ]
    signer = aa.authority("chamber-of-commerce")

    def context() -> TrustContext:
        return TrustContext(moment=MOMENT, recognitions=tuple(Recognition(tl) for tl in lists))

    def once(ctx: TrustContext) -> float:
        start = time.perf_counter()
        decision = ctx.evaluate(signer.certificate, signer.signing_chain, document_type=COO)
        elapsed = time.perf_counter() - start
        assert decision.status is TrustStatus.PASSED, decision.findings
        return elapsed

    cold = []
    for _ in range(cold_runs):
        start = time.perf_counter()
        ctx = context()
        once(ctx)
        cold.append(time.perf_counter() - start)
    ctx = context()
    once(ctx)
    warm = [once(ctx) for _ in range(warm_runs)]
    moved = []
    for i in range(warm_runs // 4):
        start = time.perf_counter()
        once(ctx.at(MOMENT + timedelta(seconds=i + 1)))
        moved.append(time.perf_counter() - start)

    def row(name: str, samples: list[float]) -> None:
        median = statistics.median(samples) * 1e3
        p90 = sorted(samples)[int(len(samples) * 0.9)] * 1e3
        print(f"{name:<24} median {median:8.3f} ms   p90 {p90:8.3f} ms   ({len(samples)} runs)")

    row("cold (new context)", cold)
    row("warm", warm)
    row("warm, other moment", moved)
    print(f"cold/warm ratio: {statistics.median(cold) / statistics.median(warm):.1f}")
    finished(started)


if __name__ == "__main__":
    main()
