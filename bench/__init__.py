"""Benchmark scripts: ``python -m bench.bench_<tab>``; each prints Markdown tables with its baseline."""
import statistics
import time


def time_calls_ms(calls) -> list[float]:
    """How long each of ``calls`` (zero-argument callables) takes, in milliseconds, in order."""
    out = []
    for call in calls:
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p50_p95(times: list[float]) -> tuple[float, float]:
    """Median and 95th percentile (statistics.quantiles, 20 groups)."""
    return statistics.median(times), statistics.quantiles(times, n=20)[18]
