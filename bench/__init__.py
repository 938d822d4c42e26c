"""Benchmark scripts: ``python -m bench.bench_<tab>``; each prints Markdown tables with its baseline."""
import os
import socket
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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


def markdown_table(header, rows) -> str:
    """A Markdown table: the header row, the separator, one line per row (cells as str)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, r)) + " |" for r in rows])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(cmd: list[str], port: int, limit_s: float = 180, env: dict | None = None
                 ) -> tuple[float, subprocess.Popen]:
    """Start ``cmd`` (offline, no analytics; ``env`` instead of this process's environment) in the repository;
    wait for its first page on ``port``. Returns (seconds from start to that page, the running process)."""
    env = dict(env if env is not None else os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read(100)
            return time.perf_counter() - t0, proc
        except OSError:
            if proc.poll() is not None or time.perf_counter() - t0 > limit_s:
                proc.kill()
                raise RuntimeError(f"{cmd} did not serve a page within {limit_s:.0f} s") from None
            time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)
