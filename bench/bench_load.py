"""Load test: the real app (``python app.py``) under 16 concurrent gradio_client clients × 10 requests each.

    python -m bench.bench_load                        # queue concurrency 1, 2 and 4, ≈ 6 min on 2 CPU cores
    python -m bench.bench_load --concurrency 2        # one setting
    python -m bench.bench_load --server 30            # one warm client, raw HTTP, 30 calls per endpoint


Every client sends its requests one after another, spread over every endpoint of every tab (client i starts at
endpoint i, so all endpoints are in flight at once). For each queue setting (``python app.py --concurrency N``:
Gradio's ``default_concurrency_limit``) the app is started as a subprocess with its models not yet loaded, and
warmed with one request per endpoint before the clock starts. Printed: failures, total wall time, requests/s, and
p50 / p95 latency per endpoint (seconds, as a client sees it: queue wait included).

``--server N`` measures the server alone: one client, no concurrency, plain HTTP (``POST /gradio_api/call/<name>``,
then reading its event stream to the end: Gradio's queue, the adapter and the output's encoding, but no
``gradio_client`` and no download of the returned files; uploads are sent once beforehand). Printed: p50 / p95 per
endpoint in milliseconds over N calls, against the goal of 100 ms for every endpoint but the two that do real work
per call (GPT-2's generation, the lexicon build).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import free_port, start_server, stop  # noqa: E402

CLIENTS, REQUESTS = 16, 10


def endpoints():
    """(api_name, args) for every endpoint: ordinary inputs, each a few hundred ms at most."""
    from gradio_client import handle_file

    from demos import dgcnn, lexicon, o_gan, spectrum

    question, passages = dgcnn.EXAMPLES[4]
    qso = next(e for e in spectrum.EXAMPLES if "/qso_" in e)
    pasted = "人工智能正在改变世界。我们研究人工智能。人工智能的发展很快。很多公司投资人工智能。" * 10
    return [
        ("/sentiment_classify", ("房间很干净，服务也很好，下次还来。",)),
        ("/sentiment_attention", ("酒店隔音很差，晚上吵得睡不着。",)),
        ("/spectrum_classify", (handle_file(qso),)),
        ("/dgcnn_answer", (question, passages, 0.1, 0.0)),
        ("/gpt2_generate", ("春风", "poem", 40, 1.0, 20, 0.95, 1.1, 1, 0, False, "", 40, 0)),
        ("/lexicon_build", (lexicon.SOURCES[1], pasted, None, -4, 1, 1, 6)),
        ("/lexicon_segment", ("中国经济继续保持稳定增长。",)),
        ("/couplet_generate", ("晚风摇树树还挺", 5, "最优 k-best", 1.0, False, 0, 1.0, 1.0)),
        ("/gan_qp_sample", ("fashion_qp-l1", 5, 16, 1.0)),
        ("/gan_qp_interpolate", ("mnist_qp-l1", 1, 2, 8, 1.0)),
        ("/o_gan_sample", (1, 16, 1.0)),
        ("/o_gan_reconstruct", (handle_file(o_gan.EXAMPLES[2]),)),
        ("/o_gan_interpolate", (handle_file(o_gan.EXAMPLES[0]), handle_file(o_gan.EXAMPLES[1]), 8)),
    ]


def start_app(concurrency: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    _, proc = start_server([sys.executable, "app.py", "--port", str(port), "--concurrency", str(concurrency)], port,
                           limit_s=120)
    return proc, f"http://127.0.0.1:{port}/"


def run(concurrency: int) -> dict:
    from gradio_client import Client

    proc, url = start_app(concurrency)
    try:
        calls = endpoints()
        warm = Client(url, verbose=False)
        for name, args in calls:
            warm.predict(*args, api_name=name)
        times: dict[str, list[float]] = {name: [] for name, _ in calls}
        failures: list[str] = []
        lock = threading.Lock()
        clients = [Client(url, verbose=False) for _ in range(CLIENTS)]

        def worker(i):
            for r in range(REQUESTS):
                name, args = calls[(i + r) % len(calls)]
                t0 = time.perf_counter()
                try:
                    clients[i].predict(*args, api_name=name)
                    with lock:
                        times[name].append(time.perf_counter() - t0)
                except Exception as e:  # noqa: BLE001 - counted and shown
                    with lock:
                        failures.append(f"{name}: {type(e).__name__}: {e}"[:200])

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        stop(proc)
    return {"times": times, "failures": failures, "wall": wall}


def call_raw(port: int, name: str, data: list) -> str:
    """One call through Gradio's HTTP API; returns the last event's kind ("complete" or "error")."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", f"/gradio_api/call{name}", body=json.dumps({"data": data}),
                 headers={"Content-Type": "application/json"})
    event = json.loads(conn.getresponse().read())["event_id"]
    conn.request("GET", f"/gradio_api/call{name}/{event}")
    stream = conn.getresponse().read().decode()
    conn.close()
    return stream.split("event: ")[-1].split("\n")[0]


def upload_raw(port: int, path: str) -> dict:
    """Upload one file as the page would; returns the FileData that names it in a call."""
    boundary = "kexuebench"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{Path(path).name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + Path(path).read_bytes() + \
        f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/gradio_api/upload", body=body,
                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    (server_path,) = json.loads(conn.getresponse().read())
    return {"path": server_path, "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}


def server_latency(calls_per_endpoint: int) -> dict[str, list[float]]:
    """Milliseconds per call of every endpoint, one warm client, calls one after another."""
    port = free_port()
    _, proc = start_server([sys.executable, "app.py", "--port", str(port)], port, limit_s=120)
    try:
        calls = [(name, [upload_raw(port, a["path"]) if isinstance(a, dict) else a for a in args])
                 for name, args in endpoints()]
        times: dict[str, list[float]] = {}
        for name, data in calls:
            assert call_raw(port, name, data) == "complete", name  # warm: models loaded, caches filled
            times[name] = []
            for _ in range(calls_per_endpoint):
                t0 = time.perf_counter()
                kind = call_raw(port, name, data)
                times[name].append((time.perf_counter() - t0) * 1000)
                assert kind == "complete", name
    finally:
        stop(proc)
    return times


def p95(xs):
    return statistics.quantiles(xs, n=20)[18] if len(xs) >= 2 else xs[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, nargs="*", default=[1, 2, 4])
    ap.add_argument("--server", type=int, metavar="N", help="one warm client, raw HTTP, N calls per endpoint")
    args = ap.parse_args(argv)
    if args.server:
        heavy = {"/gpt2_generate", "/lexicon_build"}
        times = server_latency(args.server)
        print(f"\n### Server latency: one warm client, raw HTTP, {args.server} calls per endpoint, "
              f"{os.cpu_count()} CPU cores\n")
        print("| endpoint | p50 (ms) | p95 (ms) | goal p50 ≤ 100 ms |")
        print("|---|---|---|---|")
        for name, ts in times.items():
            goal = "– (real work per call)" if name in heavy else \
                ("met" if statistics.median(ts) <= 100 else "**not met**")
            print(f"| `{name}` | {statistics.median(ts):.0f} | {p95(ts):.0f} | {goal} |")
        return
    results = {c: run(c) for c in args.concurrency}
    n = CLIENTS * REQUESTS
    print(f"\n### {CLIENTS} clients × {REQUESTS} requests, {os.cpu_count()} CPU cores\n")
    print("| queue concurrency | requests | failures | wall (s) | requests / s | p50 (s) | p95 (s) |")
    print("|---|---|---|---|---|---|---|")
    for c, r in results.items():
        every = [t for ts in r["times"].values() for t in ts]
        print(f"| {c} | {n} | {len(r['failures'])} | {r['wall']:.1f} | {n / r['wall']:.2f} | "
              f"{statistics.median(every):.2f} | {p95(every):.2f} |")
    names = list(next(iter(results.values()))["times"])
    print("\n### Latency per endpoint, p50 / p95 (s)\n")
    print("| endpoint | " + " | ".join(f"concurrency {c}" for c in results) + " |")
    print("|---|" + "---|" * len(results))
    for name in names:
        cells = [f"{statistics.median(r['times'][name]):.2f} / {p95(r['times'][name]):.2f}"
                 if r["times"][name] else "–" for r in results.values()]
        print(f"| `{name}` | " + " | ".join(cells) + " |")
    for c, r in results.items():
        for f in r["failures"][:5]:
            print(f"concurrency {c} failure: {f}")


if __name__ == "__main__":
    main()
