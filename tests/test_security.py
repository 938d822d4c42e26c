"""Weights load only through safetensors; the server serves no file outside its own; request sizes are capped."""
import ast
import re
import urllib.error
import urllib.request

import pytest

from conftest import REPO

CODE = [p for d in ("app.py", "demos", "models", "training", "bench") for p in
        ([REPO / d] if d.endswith(".py") else sorted((REPO / d).rglob("*.py")))]


def calls(path):
    """Dotted names of every call in a Python file: ``torch.load``, ``np.load``, ``pickle.loads`` …"""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f, parts = node.func, []
            while isinstance(f, ast.Attribute):
                parts.append(f.attr)
                f = f.value
            if isinstance(f, ast.Name):
                parts.append(f.id)
            out.append((".".join(reversed(parts)), node))
    return out


def test_no_pickle_anywhere():
    assert len(CODE) > 30
    for path in CODE:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+(pickle|dill|joblib|cloudpickle)\b", text, re.M), path
        for name, node in calls(path):
            assert name not in ("torch.load", "pickle.load", "pickle.loads", "joblib.load"), f"{path}: {name}"
            if name.endswith(("np.load", "numpy.load")):      # numpy's own format; pickles only when allowed
                assert not any(k.arg == "allow_pickle" and getattr(k.value, "value", False) for k in node.keywords), \
                    f"{path}: np.load(allow_pickle=True)"
            if name.endswith("from_pretrained"):              # transformers: never the pickle (.bin) fallback
                assert not any(k.arg == "use_safetensors" and getattr(k.value, "value", True) is False
                               for k in node.keywords), path


def test_shipped_weights_are_safetensors_only():
    weights = [p for p in (REPO / "data").rglob("*") if p.suffix in (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")]
    assert weights == []
    assert len(list((REPO / "data").rglob("*.safetensors"))) >= 8


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read(2000)
    except urllib.error.HTTPError as e:
        return e.code, b""


@pytest.mark.parametrize("path", ["gradio_api/file=/etc/passwd", "gradio_api/file=../../../../etc/passwd",
                                  "gradio_api/file=%2Fetc%2Fpasswd", "file=/etc/passwd",
                                  "gradio_api/file=" + str(REPO / "app.py"),
                                  "gradio_api/file=" + str(REPO / "data" / "gpt2" / "model.safetensors")])
def test_server_refuses_files_outside_its_own(server_url, path):
    status, body = get(server_url + path)
    assert status in (403, 404), (path, status)
    assert b"root:" not in body


def test_uploads_larger_than_the_cap_are_refused(server_url):
    import http.client
    from urllib.parse import urlparse

    u = urlparse(server_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    size = 21 * 1024 * 1024
    boundary = "kexueboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\n").encode()
    body = head + b"0" * size + f"\r\n--{boundary}--\r\n".encode()
    conn.request("POST", "/gradio_api/upload", body=body,
                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    resp = conn.getresponse()
    assert resp.status in (400, 413), resp.status
