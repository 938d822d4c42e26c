"""科学空间 · Su Jianlin's models, runnable — one Gradio tab per post.

    python app.py                      # http://127.0.0.1:7860
    python app.py --host 0.0.0.0 --port 8080

On a Hugging Face Space the file runs as-is: the Space sets GRADIO_SERVER_NAME / GRADIO_SERVER_PORT.
This file only assembles the tabs listed in demos/TABS (the adapter contract: demos/adapter.py).
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402

from demos import TABS, language  # noqa: E402
from demos.adapter import MAX_UPLOAD_MB  # noqa: E402
from demos.language import LANGS, by_language, pick, translate  # noqa: E402


def header(lang: str) -> str:
    """What the app is, and the eight posts, in ``lang`` ("zh", "en" or "both")."""
    title = pick("科学空间 · 模型实验室", "kexue.fm models, runnable", lang, " &nbsp;·&nbsp; ")
    intro = pick("苏剑林《科学空间》博客中的经典模型，在真实数据上训练，在浏览器里直接运行。每个标签页一个模型，附原文链接与关键公式。",
                 "Models from Su Jianlin's blog *Scientific Spaces*, trained on real data from open packages and "
                 "runnable in the browser: one tab per post, each with its link and key formula.", lang, "  \n")
    posts = " · ".join(f"[{translate(tab.TITLE, lang)}]({tab.POST})" for tab in TABS)
    return f"# {title}\n{intro}\n\n{pick('原文', 'Posts', lang)}: {posts}"


def build_app(concurrency: int = 2) -> gr.Blocks:
    """All tabs; ``concurrency`` = events run at once per endpoint (the rest wait in the queue)."""
    # delete_cache: every hour, Gradio drops the files it cached for requests more than a day ago (and all of them
    # when the server stops), so a long-running Space does not fill its disk; example files are kept.
    with gr.Blocks(title="kexue.fm models · 科学空间模型", analytics_enabled=False,
                   delete_cache=(3600, 86400)) as demo:
        with gr.Row(equal_height=False):
            gr.Markdown(by_language(header), elem_id="header")
            lang = gr.Radio(LANGS, value="both", label="语言 Language", min_width=330, scale=0,
                            elem_id="language", elem_classes=["no-translate"])
        with gr.Tabs():
            for tab in TABS:
                with gr.Tab(tab.TITLE, id=tab.TAB_ID, elem_id=f"tab-{tab.TAB_ID}"):
                    tab.build_tab()
        language.connect(demo, lang)
    demo.queue(default_concurrency_limit=concurrency, max_size=64)
    return demo


def launch_kwargs() -> dict:
    """Settings shared by ``python app.py`` and the tests' in-process server."""
    return dict(
        max_file_size=f"{MAX_UPLOAD_MB}mb",
        css="\n".join(getattr(tab, "CSS", "") for tab in TABS),
        show_error=True,
    )


def parse_args(argv=None) -> argparse.Namespace:
    """--host/--port; defaults come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (as a Space sets them)."""
    ap = argparse.ArgumentParser(description="Run the kexue.fm models app.")
    ap.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    ap.add_argument("--concurrency", type=int, default=2, help="requests served at once per endpoint (queue)")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    build_app(args.concurrency).launch(server_name=args.host, server_port=args.port, **launch_kwargs())


if __name__ == "__main__":
    main()
