"""The zh / en switch: every text a tab writes can be shown in Chinese, English or both; nothing else changes."""
import re

import gradio as gr
import pytest

import app
from demos import TABS, language
from demos.language import bi, pick, translate

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def page():
    demo = app.build_app()
    blocks = list(demo.blocks.values())
    return blocks, language.page_texts(blocks)


def texts_in(found, lang):
    """[(block, prop, text)] of every switched text in ``lang`` (choices: their shown names)."""
    out = []
    for (block, _), update in zip(found, language.updates(found, lang)):
        for prop, value in update.items():
            if prop == "choices":
                out += [(block, prop, name) for name, _ in value]
            elif prop == "headers":
                out += [(block, prop, h) for h in value]
            elif prop != "__type__":
                out.append((block, prop, value))
    return out


def test_bi_remembers_both_halves():
    both = bi("测试标签", "Test label")
    assert both == "测试标签 Test label"
    assert (translate(both, "zh"), translate(both, "en"), translate(both, "both")) == ("测试标签", "Test label", both)
    assert translate("not made by bi", "en") == "not made by bi"
    assert bi("a", "a") == "a" and pick("表", "table", "both", " / ") == "表 / table"


def test_no_bilingual_text_escapes_the_switch(page):
    blocks, _ = page
    assert language.unregistered(blocks) == []


def test_every_tab_is_switched(page):
    blocks, found = page
    switched = {id(block) for block, _ in found}
    tabs = [b for b in blocks if isinstance(b, gr.Tab)]
    assert len(tabs) == len(TABS) and all(id(t) in switched for t in tabs)
    for tab in tabs:  # the tab's own texts: its explanation, labels, buttons
        inside = [b for b in blocks if id(b) in switched and _within(b, tab)]
        kinds = {type(b).__name__ for b in inside}
        assert {"Markdown", "Button"} <= kinds and len(inside) >= 5, (tab.label, kinds)


def _within(block, tab):
    while block is not None:
        if block is tab:
            return True
        block = getattr(block, "parent", None)
    return False


def test_english_labels_have_no_chinese_and_chinese_labels_have_some(page):
    _, found = page
    for block, prop, text in texts_in(found, "en"):
        if prop != "value":  # labels, placeholders, choices, tab titles, headers
            assert not CJK.search(text), (type(block).__name__, prop, text)
        elif isinstance(block, gr.Button):
            assert not CJK.search(text), text
        else:  # Markdown: only quoted Chinese (a character, a book title) may remain
            assert len(CJK.findall(text)) <= 0.02 * len(text), text[:200]
    for block, prop, text in texts_in(found, "zh"):
        assert CJK.search(text) or prop == "value" and "|" in text, (type(block).__name__, prop, text)


def test_explanations_keep_the_formula_and_the_post_in_each_language(page):
    _, found = page
    for tab in TABS:
        for lang, link in (("zh", "原文："), ("en", "Post: "), ("both", "原文 Post: ")):
            shown = [t for _, p, t in texts_in(found, lang) if p == "value" and tab.POST in t and "$$" in t]
            assert len(shown) == 1 and f"{link}<{tab.POST}>" in shown[0], (tab.TAB_ID, lang)


def test_the_switch_never_touches_what_the_user_typed_or_the_choices_values(page):
    _, found = page
    for (block, props), update in zip(found, language.updates(found, "en")):
        if "value" in update:
            assert isinstance(block, (gr.Markdown, gr.Button, gr.HTML)), type(block).__name__
        if "choices" in update:
            assert [v for _, v in update["choices"]] == [v for _, v in props["choices"]]


def test_header_in_each_language_links_every_post():
    for lang in ("zh", "en", "both"):
        header = app.header(lang)
        assert all(f"]({tab.POST})" in header for tab in TABS)
    assert not CJK.search(app.header("en")) and "kexue.fm" in app.header("en")
    assert "Scientific Spaces" not in app.header("zh")
