"""The adapter contract — every tab of the app follows it.

An adapter is one module in ``demos/`` that wraps one model or algorithm of ``models/``. It defines:

* ``TAB_ID``  — a short stable id (``"lexicon"``); the tab's element id and the prefix of its endpoints.
* ``TITLE``   — the tab label, Chinese and English (``bi("最小熵分词", "Min-entropy words")``).
* plain functions that take and return exactly what the page shows (strings, numbers, tables, image arrays,
  file paths). They are what the tests call, without a browser. Bad input raises :func:`error` (a ``gr.Error``
  whose message is Chinese and English); input sizes are capped with the ``check_*`` helpers below.
* its model behind :class:`Lazy`: loaded on first use, then cached, once even under concurrent requests.
* ``build_tab()`` — called inside ``gr.Tab``, always in the same order: the explanation (:func:`explanation`: zh +
  en, the post's link and key formula); a row of an input column (ending in the primary button) and an output
  column, with the tab's ``gr.Examples`` in the input column or right below the row; further sections under ``###`` headings; last :func:`model_card`. One
  event per action, each with a stable ``api_name`` (``f"{TAB_ID}_<verb>"``, listed in the README). Every word
  on the page is written with ``bi(zh, en)`` (demos/language.py) so the header's language switch can show it in
  Chinese, English or both.

``demos/__init__.py`` lists the adapters in tab order; ``app.py`` only assembles them. Nothing in ``models/``
imports gradio; nothing in ``demos/`` trains.
"""
from __future__ import annotations

import functools
import inspect
import logging
import math
import re
import tempfile
import threading
from os import PathLike
from pathlib import Path
from typing import Callable, Generic, TypeVar

import gradio as gr

from demos.language import bi
from models.vocab import CJK

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
MAX_UPLOAD_MB = 20  # also the app's max_file_size: larger uploads are refused before they reach an adapter

# removed from text input: control characters, and lone UTF-16 surrogates (JSON can carry "\\ud800", which no
# UTF-8 encoder accepts: an error message quoting the input would itself fail)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
LOG = logging.getLogger("kexue")


class Lazy(Generic[T]):
    """A value built by ``loader`` on first ``get()``, then cached; thread-safe (double-checked lock)."""

    def __init__(self, loader: Callable[[], T]):
        self._loader = loader
        self._lock = threading.Lock()
        self._value: T | None = None
        self._loaded = False

    def get(self) -> T:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self._value = self._loader()
                    self._loaded = True
        return self._value  # type: ignore[return-value]

    @property
    def loaded(self) -> bool:
        return self._loaded


def error(zh: str, en: str) -> gr.Error:
    """A user-facing error, in both languages. The server log gets one line, not a traceback: a visitor's mistake
    is not the server's fault."""
    LOG.info("refused: %s", en)
    return gr.Error(f"{zh} / {en}", print_exception=False)


def check_text(text, what_zh: str, what_en: str, max_chars: int, need_cjk: bool = True) -> str:
    """Validate text from the page: a string, not empty, at most ``max_chars``, (optionally) some Chinese.

    Control characters (other than newline and tab) are removed rather than refused.
    """
    if text is None or not isinstance(text, str):
        raise error(f"请输入{what_zh}", f"please enter the {what_en}")
    text = CONTROL.sub("", text)
    if not text.strip():
        raise error(f"{what_zh}为空", f"the {what_en} is empty")
    if len(text) > max_chars:
        raise error(f"{what_zh}太长：{len(text):,} 字符，上限 {max_chars:,}",
                    f"the {what_en} is too long: {len(text):,} characters, the limit is {max_chars:,}")
    if need_cjk and not CJK.search(text):
        raise error(f"{what_zh}里没有汉字", f"the {what_en} contains no Chinese characters")
    return text


def check_number(value, what_zh: str, what_en: str, lo: float, hi: float) -> float:
    """A finite number within [lo, hi]."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond 1.8e308 (JSON allows it)
        raise error(f"{what_zh}不是数字", f"{what_en} is not a number") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise error(f"{what_zh}须在 {lo:g} 到 {hi:g} 之间", f"{what_en} must be between {lo:g} and {hi:g}")
    return x


MAX_SEED = 2**31 - 1


def check_seed(value, what_zh: str = "随机种子", what_en: str = "seed") -> int:
    """A whole number in [0, 2³¹ − 1]."""
    x = check_number(value, what_zh, what_en, 0, MAX_SEED)
    if x != int(x):
        raise error(f"{what_zh}须是整数", f"the {what_en} must be a whole number")
    return int(x)


def enlarge(picture, factor: int = 3):
    """A small uint8 picture (H, W) or (H, W, 3) shown ``factor``× larger with sharp pixels (the browser would
    blur a tiny image when scaling it up)."""
    return picture.repeat(factor, 0).repeat(factor, 1)


PICTURES = Path(tempfile.gettempdir()) / "kexue-pictures"  # PNGs the image outputs hand to Gradio
MAX_PICTURES = 2_000  # beyond this many files, the older half is removed


@functools.cache
def cjk_font_file() -> str | None:
    """The file of a font with Chinese glyphs (the one matplotlib finds: WenQuanYi, Noto CJK…), found once."""
    from matplotlib import font_manager

    for f in font_manager.fontManager.ttflist:
        if any(k in f.name for k in ("WenQuanYi", "Noto Sans CJK", "Noto Sans SC", "SimHei", "Source Han")):
            return f.fname
    # matplotlib's font list is cached on first use: a font installed after that (fonts-wqy-microhei on a machine
    # that ran matplotlib before) is not in it, and the pictures' labels came out as empty boxes
    for pattern in ("wqy-microhei.tt[cf]", "wqy-zenhei.tt[cf]", "NotoSansCJK*.tt[cf]", "NotoSansSC*.[ot]tf"):
        for root in (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts"):
            found = sorted(root.rglob(pattern)) if root.is_dir() else []
            if found:
                return str(found[0])
    return None


@functools.cache
def cjk_font(size: int):
    """A PIL font with Chinese glyphs (:func:`cjk_font_file`), else PIL's own."""
    from PIL import ImageFont

    path = cjk_font_file()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


def png_file(picture) -> str:
    """A uint8 picture (H, W) or (H, W, 3) → the path of a PNG of it, written once per content and atomically.

    Why not return the array: Gradio writes a returned array into its cache in place (open, truncate, write) under
    a name made from the content, so two requests returning the same picture at once rewrite the file while the
    first is being downloaded — the download breaks (``bench/bench_load.py`` saw ``RemoteProtocolError``). A path
    is copied into Gradio's cache by a rename instead, and this file is itself renamed into place."""
    import hashlib
    import io
    import os

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="png")
    data = buffer.getvalue()
    path = PICTURES / f"{hashlib.sha256(data).hexdigest()[:32]}.png"
    try:
        os.utime(path)  # already there: made the newest, so a prune running meanwhile keeps it
    except FileNotFoundError:
        PICTURES.mkdir(parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(dir=PICTURES, prefix=".staging-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(staging, path)
        prune_oldest(PICTURES, "*.png", MAX_PICTURES)
    return str(path)


def prune_oldest(folder: Path, pattern: str, limit: int) -> None:
    """Past ``limit`` entries matching ``pattern`` in ``folder`` (files or folders the outputs hand to Gradio,
    which keeps its own copy), remove the older half: a long-running Space must not fill its disk."""
    import shutil

    def age(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except FileNotFoundError:
            return 0.0

    entries = sorted(folder.glob(pattern), key=age)
    if len(entries) > limit:
        for old in entries[: len(entries) // 2]:
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)


def png_outputs(fn: Callable) -> Callable:
    """``fn`` for an event: every picture (uint8 array) it returns becomes a :func:`png_file` path. The adapter
    functions themselves keep returning arrays (what the tests check)."""
    import numpy as np

    def convert(value):
        return png_file(value) if isinstance(value, np.ndarray) and value.dtype == np.uint8 else value

    def converted(out):
        return tuple(convert(v) for v in out) if isinstance(out, tuple) else convert(out)

    if inspect.isgeneratorfunction(fn):  # a streamed event: every update it yields
        @functools.wraps(fn)
        def stream(*args, **kwargs):
            for out in fn(*args, **kwargs):
                yield converted(out)
        return stream

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return converted(fn(*args, **kwargs))

    return wrapper


def upload_path(path, what_zh: str = "文件", what_en: str = "file", empty: tuple[str, str] | None = None,
                max_mb: float = MAX_UPLOAD_MB) -> Path:
    """An uploaded file (str, Path or a tempfile wrapper) → its Path: given, present, at most ``max_mb``."""
    if not path:
        raise error(*(empty or (f"没有上传{what_zh}", f"no {what_en} was uploaded")))
    if not isinstance(path, (str, PathLike)):
        if not isinstance(getattr(path, "name", None), str):
            raise error(f"上传的不是{what_zh}", f"the upload is not a {what_en}")
        path = path.name
    path = Path(path)
    if not path.is_file():
        raise error(f"找不到上传的{what_zh}", f"the uploaded {what_en} is missing")
    size = path.stat().st_size
    if size > max_mb * 1024 * 1024:
        raise error(f"文件太大：{size / 2**20:.1f} MB，上限 {max_mb} MB",
                    f"the file is too large: {size / 2**20:.1f} MB, the limit is {max_mb} MB")
    return path


class UploadedPicture(gr.Image):
    """``gr.Image`` for uploads that hands the adapter the file exactly as uploaded (its path), not decoded.

    A plain ``gr.Image`` decodes every upload and converts it to RGB before the adapter sees it: the adapter's
    pixel cap would come after a 13,000² PNG had taken 1.6 GB, transparency would be gone, and the converted copy
    is rewritten in place under a content-named file, which another request uploading the same picture may be
    reading at that moment. The adapter reads the header first and handles every mode itself."""

    is_template = True  # the page draws it with gr.Image's own front end

    def preprocess(self, payload) -> str | None:
        return None if payload is None else payload.path


def read_text_file(path, max_mb: float = MAX_UPLOAD_MB) -> str:
    """An uploaded text file → str. Refuses binaries, unknown encodings and files over ``max_mb``."""
    data = upload_path(path, max_mb=max_mb).read_bytes()
    encodings = ["utf-8-sig", "gb18030"]
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its byte-order mark (Windows Notepad's "Unicode")
        encodings = ["utf-16"]
    elif b"\x00" in data[:65536]:
        head = data[:65536]
        odd, even = head[1::2].count(0), head[0::2].count(0)  # UTF-16 without a mark: its zero bytes (the high
        if min(odd, even) == 0:  # byte of ASCII) all fall on one side; a binary file has them on both
            encodings = ["utf-16-le" if odd else "utf-16-be"]
        else:
            raise error("这不是文本文件（含二进制内容）", "this is not a text file (binary content)")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise error("无法识别文件编码（请用 UTF-8、GBK 或 UTF-16）", "unknown text encoding (use UTF-8, GBK or UTF-16)")


def explanation(zh: str, en: str, url: str, formula: str) -> str:
    """The tab's explanation block: the post's idea in Chinese and English, its key formula (LaTeX) and link."""
    tail = f"\n\n$$ {formula} $$\n\n"
    return bi(f"{zh}{tail}原文：<{url}>", f"{en}{tail}Post: <{url}>", both=f"{zh}\n\n{en}{tail}原文 Post: <{url}>")


def model_card(card: Path, pictures: list[tuple[Path, str | None]] = (), title: str | None = None) -> None:
    """The closed accordion that ends every tab: the training pictures (loss curves, samples during training),
    then the card itself (a document: shown as written, not switched by the language toggle)."""
    if title is None:
        title = bi("模型卡与训练图", "Model card and training plots") if pictures else bi("模型卡", "Model card")
    with gr.Accordion(title, open=False, elem_classes=["model-card"]):
        for path, label in pictures:
            gr.Image(str(path), label=label, show_label=label is not None, interactive=False, height=320)
        text = card.read_text(encoding="utf-8")
        # the card's own image links are relative to its folder, which the page cannot serve: the pictures above
        gr.Markdown("\n".join(line for line in text.splitlines() if not line.startswith("![")),
                    elem_classes=["no-translate"])
