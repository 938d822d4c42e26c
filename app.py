"""科学空间 · Su Jianlin's models, runnable — one Gradio tab per post.

    python app.py                      # http://127.0.0.1:7860
    python app.py --host 0.0.0.0 --port 8080

On a Hugging Face Space the file runs as-is: the Space sets GRADIO_SERVER_NAME / GRADIO_SERVER_PORT.
This file only assembles the tabs listed in demos/TABS (the adapter contract: demos/adapter.py).
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import importlib.util
import itertools
import json
import logging
import os
import re
import shutil
import signal
import time
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402

from demos import TABS, language  # noqa: E402
from demos.adapter import MAX_UPLOAD_MB, PICTURES  # noqa: E402
from demos.language import LANGS, bi, by_language, pick, translate  # noqa: E402
from demos.lexicon import EXPORTS  # noqa: E402

# What one visitor, or many, may make the server hold. Each bound is tested in tests/test_limits.py.
MAX_BODY_MB = 8       # any request but an upload: the largest real one is a 1M-character pasted corpus (≤ 6 MB)
MAX_DISK_MB = 2_048   # uploads and outputs on disk, all visitors together; past it the oldest files go
SESSIONS = 64         # sessions whose state the server keeps, the most recently active (see README: limits)
JANITOR_SECONDS = 60  # how often the disk bound is checked
TRIM_SECONDS = 10     # how often freed memory is handed back to the system
LOG = logging.getLogger("kexue")


def header(lang: str) -> str:
    """What the app is, and the eight posts, in ``lang`` ("zh", "en" or "both")."""
    title = pick("科学空间 · 模型实验室", "kexue.fm models, runnable", lang, " &nbsp;·&nbsp; ")
    intro = pick("苏剑林《科学空间》博客中的经典模型，在真实数据上训练，在浏览器里直接运行。每个标签页一个模型，附原文链接与关键公式。",
                 "Models from Su Jianlin's blog *Scientific Spaces*, trained on real data from open packages and "
                 "runnable in the browser: one tab per post, each with its link and key formula.", lang, "  \n")
    posts = " · ".join(f"[{translate(tab.TITLE, lang)}]({tab.POST})" for tab in TABS)
    return f"# {title}\n{intro}\n\n{pick('原文', 'Posts', lang)}: {posts}"


def build_app(concurrency: int = 2) -> gr.Blocks:
    """All tabs; ``concurrency`` = events run at once per endpoint (the rest wait in the queue).

    ``?tab=couplet`` in the address opens that tab (the ids are the adapters' TAB_ID), ``?lang=en`` the language."""
    # delete_cache: every 10 minutes, Gradio drops the files it cached for requests more than two hours ago (and all
    # of them when the server stops); the janitor below bounds their total size in between.
    with gr.Blocks(title="kexue.fm models · 科学空间模型", analytics_enabled=False,
                   delete_cache=(600, 7200)) as demo:
        with gr.Row(equal_height=False):
            gr.Markdown(by_language(header), elem_id="header")
            with gr.Column(min_width=330, scale=0):
                lang = gr.Radio(LANGS, value="both", label="语言 Language", elem_id="language",
                                elem_classes=["no-translate"])
                share = gr.Button(bi("分享结果", "Share these results"), size="sm", elem_id="share")
        link = gr.Textbox(label=bi("这次结果的链接（本服务器重启前有效）", "Link to these results (valid until this server restarts)"),
                          visible=False, buttons=["copy"], elem_id="share-link")
        with gr.Tabs() as tabs:
            for tab in TABS:
                with gr.Tab(tab.TITLE, id=tab.TAB_ID, elem_id=f"tab-{tab.TAB_ID}"):
                    tab.build_tab()
        language.connect(demo, lang)
        share.click(shown_link, [link, lang], [link], js=SHARE, queue=False, api_visibility="private",
                    show_progress="hidden")
        demo.load(tab_from_address, None, [tabs], queue=False, api_visibility="private", show_progress="hidden")
    name_tools(demo)
    demo.queue(default_concurrency_limit=concurrency, max_size=64)
    return demo


def name_tools(demo: gr.Blocks) -> None:
    """Gradio's MCP server names each tool after its Python function (two tabs have a ``classify``, so one became
    ``classify_1``); give each event's function its endpoint's name instead (``spectrum_classify``). The function is
    copied, not wrapped, so that Gradio still sees a generator (streaming) and the same signature."""
    import types

    for block_fn in demo.fns.values():
        fn = block_fn.fn
        if block_fn.api_name and isinstance(fn, types.FunctionType) and fn.__name__ != block_fn.api_name:
            named = types.FunctionType(fn.__code__, fn.__globals__, block_fn.api_name, fn.__defaults__,
                                       fn.__closure__)
            named.__kwdefaults__, named.__doc__ = fn.__kwdefaults__, fn.__doc__
            named.__dict__.update(fn.__dict__)
            named.__qualname__ = block_fn.api_name
            block_fn.fn = named


# Gradio saves what the session shows (inputs and results) under a hash in its cache folder; ?deep_link=<hash> in
# the address restores it (Gradio's DeepLinkButton does the same, but puts back its English label after a click).
# The open tab (its button's id is "tab-<TAB_ID>-button") goes into the address as ?tab=. The language is part of
# the saved state (the labels as shown); ?lang= would switch the labels again on load, and Gradio then drops the
# restored values of every block it relabels.
SHARE = """async (link, lang) => {
    const address = new URL(window.location.href);
    for (const name of ["deep_link", "tab", "lang"]) address.searchParams.delete(name);
    const tab = document.querySelector("button[role=tab][aria-selected=true]")?.id?.match(/^tab-(.+)-button$/);
    if (tab) address.searchParams.set("tab", tab[1]);
    const saved = await fetch(`gradio_api/deep_link?session_hash=${window.__gradio_session_hash__}`)
        .then((r) => (r.ok ? r.text() : "")).catch(() => "");
    const hash = saved.replace(/^"|"$/g, "");
    if (hash) address.searchParams.set("deep_link", hash);
    try { await navigator.clipboard.writeText(address.toString()); } catch (e) { /* not a secure page: shown */ }
    return [address.toString(), lang];
}"""


def shown_link(address: str, lang: str, request: gr.Request):
    """The address made by SHARE, shown under the header (the clipboard is not available on every page)."""
    saved = parse_qs(urlparse(address).query).get("deep_link", [""])[0]
    if request and re.fullmatch(r"[\w-]{1,64}", saved):
        repair_saved_state(request.request.app, request.session_hash, saved, {"language": lang})
    return gr.Textbox(value=address, visible=True)


def repair_saved_state(server, session_hash: str, saved: str, values: dict[str, object]) -> None:
    """Gradio 6.31 replaces a block in the session by a new object with a new id when an event updates its props
    (the language switch relabels every block), then records the block's values under that new id: the saved state
    restores nothing for it. Put each block's latest entry back under the page's id and drop the strays. An empty
    ``gr.update()`` (the language radio on load, without ?lang=) loses the block's value: ``values`` gives it back,
    by elem_id."""
    path = Path(server.uploaded_file_dir) / "deep_links" / saved / "state.json"
    if session_hash not in server.state_holder or not path.is_file():
        return
    page_ids = set(server.get_blocks().blocks)
    latest = {block._id: key for key, block in server.state_holder[session_hash].blocks_config.blocks.items()
              if key in page_ids and getattr(block, "_id", key) != key}   # new id → the page's id
    entries = json.loads(path.read_bytes())
    by_id = {entry["id"]: entry for entry in entries}
    for new_id, key in latest.items():
        if new_id in by_id:
            by_id[key] = dict(by_id[new_id], id=key)
    for entry in by_id.values():
        if entry.get("props", {}).get("elem_id") in values:
            entry["props"]["value"] = values[entry["props"]["elem_id"]]
    path.write_text(json.dumps([entry for key, entry in by_id.items() if key in page_ids]), encoding="utf-8")


def tab_from_address(request: gr.Request):
    """The tab named by ``?tab=`` (a TAB_ID), else stay on the first."""
    wanted = request.query_params.get("tab") if request else None
    return gr.Tabs(selected=wanted) if wanted in {tab.TAB_ID for tab in TABS} else gr.update()


class BodyLimit:
    """ASGI middleware: a request body larger than its limit is refused with 413 before it is read into memory
    or written to disk. Uploads may carry ``upload_mb`` in all (one file of the per-file maximum, not 20 of them);
    every other request ``body_mb``. Gradio itself limits only each uploaded file."""

    def __init__(self, app, body_mb: float = MAX_BODY_MB, upload_mb: float = MAX_UPLOAD_MB + 1):
        self.app, self.body, self.upload = app, int(body_mb * 2**20), int(upload_mb * 2**20)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = self.upload if scope["path"].rstrip("/").endswith("/upload") else self.body
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            return await self.refuse(send, limit)
        seen, started = 0, False

        async def counted_receive():  # a chunked body declares no length: count what arrives
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started:
                await self.refuse(send, limit)

    @staticmethod
    async def refuse(send, limit: int):
        mb = limit / 2**20
        LOG.info("refused: a request body over %.0f MB", mb)
        body = (f'{{"error": "请求太大，上限 {mb:.0f} MB / the request is too large: the limit is {mb:.0f} MB"}}'
                ).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


def disk_folders() -> list[Path]:
    """Where uploads and outputs are written: Gradio's cache, our pictures and lexicon downloads."""
    from gradio.utils import get_upload_folder

    return [Path(get_upload_folder()), PICTURES, EXPORTS]


def files_under(folders: list[Path]) -> list[tuple[float, int, Path]]:
    """(mtime, size, path) of every file under ``folders``."""
    files = []
    for folder in folders:
        for path in folder.rglob("*"):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if path.is_file():
                files.append((st.st_mtime, st.st_size, path))
    return files


def remove_empty_folders(folders: list[Path]) -> None:
    for folder in folders:
        for sub in sorted(folder.rglob("*"), key=lambda p: -len(p.parts)):
            if sub.is_dir() and not any(sub.iterdir()):
                sub.rmdir()


def bound_disk(folders: list[Path], max_bytes: int) -> int:
    """If the files under ``folders`` take more than ``max_bytes``, remove the oldest until they take ¾ of it
    (the newest are what visitors are looking at); empty folders go too. Returns the bytes removed."""
    files = files_under(folders)
    total = sum(size for _, size, _ in files)
    removed = 0
    if total > max_bytes:
        for _, size, path in sorted(files):
            if total - removed <= max_bytes * 3 // 4:
                break
            path.unlink(missing_ok=True)
            removed += size
        remove_empty_folders(folders)
        LOG.info("disk bound: %.0f MB in %d files, removed %.0f MB", total / 2**20, len(files), removed / 2**20)
    return removed


@asynccontextmanager
async def janitor(app):
    """While the server runs, keep uploads and outputs under MAX_DISK_MB. When it stops, remove every file
    written since it started (uploads and outputs; Gradio's own clean-up misses uploads that were used as input)
    — the examples cached before the start stay for the next one."""
    async def loop():
        for turn in itertools.count():
            if turn % (JANITOR_SECONDS // TRIM_SECONDS) == 0:
                await asyncio.to_thread(bound_disk, disk_folders(), MAX_DISK_MB * 2**20)
            await asyncio.to_thread(return_freed_memory)
            await asyncio.sleep(TRIM_SECONDS)

    started = time.time()
    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        remove_written_since(started)


@functools.cache
def _libc():
    """glibc, where the process runs on it (Linux, as on a Space); else None. Loaded once."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def fewer_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own heap (up to 8 per core), and memory freed in one is not reused
    by another: the request threads' heaps kept growing in a soak (502 → 709 MiB idle after 176 sessions; with two
    arenas 484 → 588). Called before the server starts its threads."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(-8, arenas)  # M_ARENA_MAX


def return_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's malloc_trim), after collecting Python's garbage."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def remove_written_since(started: float) -> None:
    """Remove the uploads and outputs written since ``started`` (a time.time()), and our output folders."""
    for mtime, _, path in files_under(disk_folders()):
        if mtime >= started - 1:
            path.unlink(missing_ok=True)
    remove_empty_folders(disk_folders())
    for folder in (PICTURES, EXPORTS):
        shutil.rmtree(folder, ignore_errors=True)


def mcp_available() -> bool:
    """Gradio's MCP server needs its extra (``pip install "gradio[mcp]"``)."""
    return importlib.util.find_spec("mcp") is not None


def theme() -> gr.themes.Base:
    """Gradio's default theme with one change: its bundled semi-bold faces (weight 600) are subsets — Source Sans
    Pro's holds 55 glyphs (of the Latin letters only A and B), IBM Plex Mono's 75 — so semi-bold labels and **bold**
    Markdown mixed two fonts in one word. Serving the regular and the complete bold faces instead makes the browser
    draw weight 600 with the bold one."""
    return gr.themes.Default(
        font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "ui-monospace", "Consolas", "monospace"])


def launch_kwargs() -> dict:
    """Settings shared by ``python app.py`` and the tests' in-process server."""
    from starlette.middleware import Middleware

    return dict(
        max_file_size=f"{MAX_UPLOAD_MB}mb",
        css="\n".join(getattr(tab, "CSS", "") for tab in TABS),
        theme=theme(),
        show_error=True,
        state_session_capacity=SESSIONS,
        app_kwargs={"middleware": [Middleware(BodyLimit)], "lifespan": janitor},
        mcp_server=mcp_available(),
    )


def parse_args(argv=None) -> argparse.Namespace:
    """--host/--port; defaults come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (as a Space sets them)."""
    ap = argparse.ArgumentParser(description="Run the kexue.fm models app.")
    ap.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    ap.add_argument("--concurrency", type=int, default=2, help="requests served at once per endpoint (queue)")
    ap.add_argument("--gpt2-checkpoints", default=None, metavar="NAMES",
                    help="comma-separated GPT-2 folders / hub ids visitors may pick (sets $KEXUE_GPT2_ALLOWED)")
    return ap.parse_args(argv)


def stop_on_sigterm() -> None:
    """A Space (and docker, systemd) stops the app with SIGTERM: handle it as Ctrl-C, so that the server closes
    and its cache and output folders are removed instead of the process dying with them on disk."""
    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once is enough: a second would interrupt the shutdown
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main(argv=None):
    args = parse_args(argv)
    if args.gpt2_checkpoints is not None:
        os.environ["KEXUE_GPT2_ALLOWED"] = args.gpt2_checkpoints
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop_on_sigterm()
    fewer_malloc_arenas()
    demo = build_app(args.concurrency)
    started = time.time()
    demo.launch(server_name=args.host, server_port=args.port, **launch_kwargs())
    # here after Ctrl-C / SIGTERM; the server's own shutdown may still be waiting for open connections (5 s, then
    # the process ends without it), so the clean-up is done here too
    remove_written_since(started)


if __name__ == "__main__":
    main()
