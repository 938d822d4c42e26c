"""The app under hostile use and on a long-lived Space (issue 23): what a request, a session and the disk may hold,
a clean stop on SIGTERM, errors that stay bilingual and leave one log line, pictures seen as uploaded, deep links."""
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import gradio as gr
import numpy as np
import pytest
from PIL import Image

import app
from bench.bench_soak import rss_mib
from conftest import REPO, free_port
from demos import adapter, lexicon


def post(server_url, path, body: bytes, content_type: str):
    u = urlparse(server_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("POST", path, body=body, headers={"Content-Type": content_type})
    resp = conn.getresponse()
    return resp.status, resp.read().decode("utf-8", "replace")


def call_api(server_url, api_name: str, data: list) -> str:
    """One call through Gradio's HTTP API (escapes travel as a script sends them); returns its event stream."""
    status, text = post(server_url, f"/gradio_api/call/{api_name}", json.dumps({"data": data}).encode(),
                        "application/json")
    assert status == 200, text
    u = urlparse(server_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("GET", f"/gradio_api/call/{api_name}/{json.loads(text)['event_id']}")
    return conn.getresponse().read().decode("utf-8", "replace")


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "kexueboundary"
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
             f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n" for name, data in files]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_one_upload_request_may_not_carry_many_files_of_the_per_file_maximum(server_url):
    """Before: 20 files of 19 MiB in one request were all written to disk (11 requests: 4.2 GB in a minute)."""
    body, kind = multipart([(f"part{i}.txt", b"0" * (12 * 2**20)) for i in range(2)])
    status, text = post(server_url, "/gradio_api/upload", body, kind)
    assert status == 413 and "上限" in text and "the limit is 21 MB" in text
    body, kind = multipart([("small.txt", "中文".encode() * 1000)])
    status, text = post(server_url, "/gradio_api/upload", body, kind)
    assert status == 200 and "small.txt" in text


def test_request_bodies_are_capped(server_url):
    """Before: six 100 MB JSON bodies from new sessions took the server from 370 to 1,099 MiB."""
    big = b'{"data": ["' + b"a" * (app.MAX_BODY_MB * 2**20) + b'"], "fn_index": 0, "session_hash": "x"}'
    status, text = post(server_url, "/gradio_api/queue/join", big, "application/json")
    assert status == 413 and "the request is too large" in text


def test_the_disk_bound_removes_the_oldest_files_first(tmp_path):
    a, b = tmp_path / "gradio", tmp_path / "pictures"
    for i in range(10):
        folder = (a if i % 2 else b) / f"h{i}"
        folder.mkdir(parents=True)
        (folder / "f.bin").write_bytes(b"x" * 1000)
        os.utime(folder / "f.bin", (1_000_000 + i, 1_000_000 + i))
    assert app.bound_disk([a, b], 20_000) == 0  # 10,000 bytes: under the bound, nothing removed
    removed = app.bound_disk([a, b], 8_000)     # over: the oldest go until 3/4 of the bound (6,000) is left
    left = sorted(int(p.parent.name[1:]) for p in tmp_path.rglob("f.bin"))
    assert removed == 4_000 and left == [4, 5, 6, 7, 8, 9]
    assert not (b / "h0").exists()  # its emptied folder too


def test_the_server_keeps_a_bounded_number_of_sessions(monkeypatch):
    """Before: Gradio kept 10,000 sessions (≈ 0.6 MiB each here: a copy of every block's config, the outputs shown);
    a soak grew without end. Every API call is a new session; only the most recent SESSIONS stay. (A second server
    in this process, without the janitor: its shutdown would remove what the tests' server wrote meanwhile.)"""
    monkeypatch.setattr(app, "SESSIONS", 5)
    demo = app.build_app()
    port = free_port()
    kwargs = app.launch_kwargs()
    assert kwargs.pop("app_kwargs")["lifespan"] is app.janitor  # not here: on shutdown it would remove the files
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **kwargs)
    try:
        for i in range(12):
            assert "event: complete" in call_api(f"http://127.0.0.1:{port}/", "lexicon_segment", [f"中国经济{i}"])
        assert 0 < len(demo.state_holder.session_data) <= 5
    finally:
        demo.close()


def test_sigterm_stops_the_server_and_removes_uploads_and_outputs(tmp_path):
    """A Space stops its app with SIGTERM. Before: nothing was removed (only Ctrl-C emptied the cache)."""
    from gradio_client import Client, handle_file

    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path), "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(1)
        upload = tmp_path / "visitor.txt"
        upload.write_text("中国人民" * 500, encoding="utf-8")
        client.predict(lexicon.SOURCES[2], "", handle_file(str(upload)), -4, 1, 1, 4, api_name="/lexicon_build")
        client.predict(3, 4, 1.0, api_name="/o_gan_sample")
        assert list((tmp_path / "gradio").rglob("visitor.txt")) and list((tmp_path / "gradio").rglob("lexicon*.csv"))
        assert list((tmp_path / "kexue-pictures").glob("*.png")) and list((tmp_path / "kexue-lexicons").iterdir())
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, out[-3000:]
    assert not list((tmp_path / "gradio").rglob("visitor.txt")) and not list((tmp_path / "gradio").rglob("lexicon*.csv"))
    assert not (tmp_path / "kexue-pictures").exists() and not (tmp_path / "kexue-lexicons").exists()
    assert "Traceback" not in out


class FakeRequest:
    def __init__(self, **query):
        self.query_params = query


def test_a_link_opens_the_tab_it_names():
    assert app.tab_from_address(FakeRequest(tab="couplet")).selected == "couplet"
    assert app.tab_from_address(FakeRequest(tab="o_gan")).selected == "o_gan"
    for wrong in (None, "", "nonsense", "../etc"):
        assert app.tab_from_address(FakeRequest(tab=wrong)) == {"__type__": "update"}


def test_numbers_beyond_a_float_are_refused_clearly():
    """Before: a seed of 10⁴⁰⁰ (valid JSON) raised an uncaught OverflowError."""
    with pytest.raises(gr.Error, match="not a number"):
        adapter.check_seed(10**400)
    with pytest.raises(gr.Error, match="between"):
        adapter.check_number("1e400", "数", "number", 0, 1)


def test_lone_surrogates_are_removed_from_text():
    """JSON may carry "\\ud800"; no UTF-8 encoder accepts it, so an error message quoting it failed."""
    assert adapter.check_text("好\ud800吃\udfff", "文本", "text", 100) == "好吃"
    with pytest.raises(gr.Error, match="empty"):
        adapter.check_text("\ud800\udc00", "文本", "text", 100)


@pytest.mark.parametrize("api_name,args", [
    ("sentiment_classify", ["\ud800好吃"]),
    ("lexicon_segment", ["\ud800中国人民", None]),
    ("couplet_generate", ["\ud800春风", 5, "最优 k-best", 1.0, True, 0, 1.0, 1.0]),
    ("dgcnn_answer", ["\ud800谁", "\ud800张三是老师。", 0.02, 0.0]),
    ("sentiment_classify", ["\ud800"]),
    ("dgcnn_answer", ["", "\ud800", 0.02, 0.0]),
])
def test_lone_surrogates_through_the_api(server_url, api_name, args):
    """JSON may carry a lone surrogate ("\\ud800", which Python's json reads); the answer is the result or the
    tab's bilingual message, never a failure inside the error path."""
    stream = call_api(server_url, api_name, args)
    kind = stream.split("event: ")[-1].split("\n")[0]
    assert kind in ("complete", "error"), stream[-500:]
    if kind == "error":
        assert " / " in stream and "surrogate" not in stream, stream[-500:]


def test_utf16_text_files_are_read(tmp_path):
    """Before: Windows Notepad's "Unicode" (UTF-16 with a mark) was refused as binary content."""
    text = "中国人民站起来了。abc\n第二行"
    for name, data in [("bom.txt", text.encode("utf-16")), ("le.txt", text.encode("utf-16-le")),
                       ("be.txt", text.encode("utf-16-be"))]:
        (tmp_path / name).write_bytes(data)
        assert adapter.read_text_file(tmp_path / name) == text, name
    (tmp_path / "bin.dat").write_bytes(bytes([0, 0, 7, 0, 255, 1]) * 100)  # zero bytes on both sides
    with pytest.raises(gr.Error, match="binary"):
        adapter.read_text_file(tmp_path / "bin.dat")


def test_user_errors_leave_one_log_line_not_a_traceback(server_url, capfd):
    from gradio_client import Client

    client = Client(server_url, verbose=False)
    with pytest.raises(Exception, match="为空"):
        client.predict("", api_name="/sentiment_classify")
    err = capfd.readouterr()
    assert "Traceback" not in err.out + err.err


def png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="png")
    return buffer.getvalue()


def test_pictures_reach_the_tab_as_uploaded(server_url, tmp_path):
    """Before: gr.Image turned every upload into RGB first (transparency lost) and decoded it whatever its size."""
    from gradio_client import Client, handle_file

    client = Client(server_url, verbose=False)
    rgba = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    rgba.paste((255, 255, 255, 255), (15, 10, 45, 50))
    (tmp_path / "shirt.png").write_bytes(png_bytes(rgba))
    _, _, notes = client.predict(handle_file(str(tmp_path / "shirt.png")), api_name="/o_gan_reconstruct")
    assert "60×60 RGBA" in notes and "transparent" in notes
    huge = tmp_path / "huge.png"  # 13,000² pixels in ~700 KB: refused from its header, never decoded
    Image.new("L", (13_000, 13_000)).save(huge, optimize=True)
    t0 = time.time()
    with pytest.raises(Exception, match="too large"):
        client.predict(handle_file(str(huge)), api_name="/o_gan_reconstruct")
    assert time.time() - t0 < 10


def test_the_same_picture_from_many_clients_at_once(server_url, tmp_path):
    """Before: 16 clients sending one grey picture failed 20 times in 240 ("not a picture file")."""
    from gradio_client import Client, handle_file

    path = tmp_path / "grey.png"
    path.write_bytes(png_bytes(Image.fromarray(np.full((64, 64), 128, np.uint8))))
    failures, lock = [], threading.Lock()

    def visitor():
        client = Client(server_url, verbose=False)
        for _ in range(3):
            try:
                client.predict(handle_file(str(path)), api_name="/o_gan_reconstruct")
            except Exception as e:  # noqa: BLE001 - counted
                with lock:
                    failures.append(str(e))

    threads = [threading.Thread(target=visitor) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert failures == []


def test_mcp_server_lists_one_tool_per_endpoint(server_url):
    """With Gradio's MCP extra installed the app is also an MCP server: one tool per named endpoint."""
    import urllib.request

    if not app.mcp_available():
        pytest.skip("gradio[mcp] not installed")
    with urllib.request.urlopen(server_url + "gradio_api/mcp/schema", timeout=30) as r:
        tools = json.loads(r.read())
    names = {t["name"] for t in tools}
    assert {"sentiment_classify", "couplet_generate", "lexicon_build", "spectrum_classify", "gpt2_generate"} <= names
    assert all(t.get("description") for t in tools)


@pytest.mark.skipif(app._libc() is None, reason="glibc only")
def test_freed_memory_goes_back_to_the_system():
    """Memory freed between live objects stays with the process until malloc_trim (the soak's idle RSS crept up)."""
    blocks = [bytes(4000) + bytes([i % 256]) for i in range(40_000)]   # ≈ 160 MB outside Python's small-object pools
    keep = blocks[::50]                                                  # live blocks pin the heap between them
    del blocks
    before = rss_mib(os.getpid())
    app.return_freed_memory()
    assert before - rss_mib(os.getpid()) > 60, (before, rss_mib(os.getpid()))
    assert len(keep) == 800
