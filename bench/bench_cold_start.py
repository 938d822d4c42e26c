"""Cold start and memory: ``python app.py`` against a bare Gradio hello-world, in the same run.

    python -m bench.bench_cold_start            # ≈ 2 min

Cold start = from starting the process to the first page served (HTTP 200 on ``/``), median of 3 starts each
(the first start of each also fills the OS file cache, as on a fresh Space after its first boot). Memory = the
app's peak resident set (``VmHWM`` of /proc) after one request to every endpoint of every tab (every model
loaded), and right after start (no model loaded: they load lazily on first use).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import free_port, start_server, stop  # noqa: E402
from bench.bench_load import endpoints  # noqa: E402

HELLO = """import sys
import gradio as gr
gr.Interface(lambda name: "hello " + name, "text", "text", analytics_enabled=False).launch(
    server_port=int(sys.argv[1]))
"""


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set of a process in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main():
    from gradio_client import Client

    with tempfile.TemporaryDirectory() as tmp:
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO, encoding="utf-8")
        starts = {"hello-world (gradio.Interface, one textbox)": [], "python app.py (8 tabs)": []}
        for _ in range(3):
            for name in starts:
                port = free_port()
                cmd = ([sys.executable, str(hello), str(port)] if name.startswith("hello")
                       else [sys.executable, "app.py", "--port", str(port)])
                seconds, proc = start_server(cmd, port)
                starts[name].append(seconds)
                stop(proc)
    base = statistics.median(next(iter(starts.values())))
    print("\n### Cold start: process start → first page served (median of 3)\n")
    print("| app | seconds | × hello-world |")
    print("|---|---|---|")
    for name, xs in starts.items():
        print(f"| {name} | {statistics.median(xs):.2f} | {statistics.median(xs) / base:.2f} |")

    port = free_port()
    _, proc = start_server([sys.executable, "app.py", "--port", str(port)], port)
    try:
        idle = peak_rss_mb(proc.pid)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        t0 = time.perf_counter()
        for name, args in endpoints():
            client.predict(*args, api_name=name)
        first_use = time.perf_counter() - t0
        used = peak_rss_mb(proc.pid)
    finally:
        stop(proc)
    print("\n### Memory of `python app.py` (MiB)\n")
    print("| moment | resident | peak resident |")
    print("|---|---|---|")
    print(f"| after start (no model loaded) | {idle[0]:.0f} | {idle[1]:.0f} |")
    print(f"| after one request to each of the {len(endpoints())} endpoints ({first_use:.1f} s, every model "
          f"loaded) | {used[0]:.0f} | {used[1]:.0f} |")


if __name__ == "__main__":
    main()
