"""中文 / English — the page's language switch.

Every word a tab puts on the page (tab titles, labels, buttons, choices, headings, explanations) is written with
:func:`bi`, which returns the bilingual text the page shows first and remembers its Chinese and English halves.
The header's switch (:func:`connect`) rewrites every remembered text on the page in Chinese, English or both, in
one event. It never touches what the user typed, and what a request returns (results, notes, error messages) stays
bilingual: API users read those too, and they are made per request.

Texts are found by value: :func:`page_texts` walks the built page and keeps the props whose text was made by
:func:`bi`. A bilingual text that was not (a label written as one string) is listed by :func:`unregistered`,
which the tests require to be empty.
"""
from __future__ import annotations

import inspect
import re

import gradio as gr

from models.vocab import CJK  # a Chinese character: the project's one definition

LANGS = [("中英 Both", "both"), ("中文", "zh"), ("English", "en")]
_TEXTS: dict[str, dict[str, str]] = {}  # shown text (as first built) → {"both": …, "zh": …, "en": …}

# Props that hold words; `value` only for blocks whose value is static text, not something the user edits.
TEXT_PROPS = ("label", "info", "placeholder")
VALUE_BLOCKS = ("Markdown", "Button", "HTML")
_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def bi(zh: str, en: str, sep: str = " ", *, both: str | None = None) -> str:
    """The text in both languages (``zh + sep + en``, or ``zh`` alone if they are the same, or ``both`` if given),
    remembered with its halves. Markdown paragraphs use ``sep="  \\n"`` (a line break)."""
    both = pick(zh, en, "both", sep) if both is None else both
    entry = {"both": both, "zh": zh, "en": en}
    _TEXTS[both] = entry
    _TEXTS[inspect.cleandoc(both)] = entry  # gr.Markdown stores its value cleandoc'ed
    return both


def pick(zh: str, en: str, lang: str, sep: str = " ") -> str:
    """For texts built once per language (tables, the header): ``zh``, ``en`` or both (once if they are equal)."""
    return zh if lang == "zh" or zh == en else en if lang == "en" else f"{zh}{sep}{en}"


def by_language(make) -> str:
    """A text built once per language by ``make(lang)`` (a table, the header), registered like :func:`bi`."""
    return bi(make("zh"), make("en"), both=make("both"))


def heading(zh: str, en: str) -> str:
    """A section heading (Markdown ###) in both languages."""
    return bi(f"### {zh}", f"### {en}", both=f"### {pick(zh, en, 'both', ' · ')}")


def translate(text, lang: str):
    """``text`` in ``lang`` ("both", "zh" or "en") if :func:`bi` made it; anything else unchanged."""
    entry = _TEXTS.get(text) if isinstance(text, str) else None
    return entry[lang] if entry else text


def _known(text) -> bool:
    return isinstance(text, str) and text in _TEXTS


def _shown(block) -> dict[str, object]:
    """Every prop of ``block`` that shows words: {prop: text, or the list of texts for choices / headers}."""
    props = {p: getattr(block, p, None) for p in TEXT_PROPS}
    if type(block).__name__ in VALUE_BLOCKS:
        props["value"] = getattr(block, "value", None)
    props = {p: t for p, t in props.items() if isinstance(t, str)}
    choices = getattr(block, "choices", None)
    if isinstance(choices, list) and all(isinstance(c, tuple) for c in choices):
        props["choices"] = choices
    headers = getattr(block, "headers", None)  # gr.Examples' table: the inputs' labels
    if type(block).__name__ == "Dataset" and isinstance(headers, list):
        props["headers"] = headers
    return props


def _names(prop: str, shown) -> list:
    """The texts of one prop of :func:`_shown` (a choice's shown name, not its value)."""
    return [c[0] for c in shown] if prop == "choices" else shown if prop == "headers" else [shown]


def page_texts(blocks) -> list[tuple[object, dict]]:
    """[(block, {prop: text made by bi, or a list of them})] for every block of the page that shows one."""
    found = []
    for block in blocks:
        props = {p: t for p, t in _shown(block).items() if any(_known(n) for n in _names(p, t))}
        if props:
            found.append((block, props))
    return found


def updates(found, lang: str) -> list[dict]:
    """One ``gr.update`` per block of :func:`page_texts`, in ``lang``."""
    out = []
    for _, props in found:
        new = {}
        for prop, text in props.items():
            if prop == "choices":
                new[prop] = [(translate(name, lang), value) for name, value in text]
            elif prop == "headers":
                new[prop] = [translate(h, lang) for h in text]
            else:
                new[prop] = translate(text, lang)
        out.append(gr.update(**new))
    return out


def unregistered(blocks) -> list[str]:
    """Texts on the page with Chinese and English words in one string that :func:`bi` did not make (so the switch
    cannot split them). Blocks with the ``no-translate`` class (model cards: documents, not labels) are skipped."""
    return [n for block in blocks if "no-translate" not in (getattr(block, "elem_classes", None) or [])
            for p, t in _shown(block).items() for n in _names(p, t)
            if isinstance(n, str) and not _known(n) and CJK.search(n) and _LATIN_WORD.search(n)]


def connect(demo, switch) -> None:
    """Wire the language ``switch`` (a gr.Radio over LANGS) to every text of ``demo`` made by :func:`bi`;
    ``?lang=zh`` / ``?lang=en`` in the page's address picks the language on load."""
    found = page_texts(list(demo.blocks.values()))
    targets = [block for block, _ in found]
    switch.change(lambda lang: updates(found, lang if lang in dict(LANGS).values() else "both"), [switch], targets,
                  queue=False, api_visibility="private", show_progress="hidden")

    def from_address(request: gr.Request):
        lang = request.query_params.get("lang") if request else None
        return lang if lang in ("zh", "en") else gr.update()

    demo.load(from_address, None, [switch], queue=False, api_visibility="private", show_progress="hidden")
