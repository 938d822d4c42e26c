"""Browser tests: headless Chromium (Debian package) driven by Playwright, one per tab.

Each test opens the tab, fills the inputs, clicks, waits for the output, checks what is shown and saves a PNG
under tests/screenshots/ (git-ignored). Skipped only where no Chromium is installed, unless REQUIRE_BROWSER=1
(set by .ci/run), where a missing browser fails.
"""
import os
import shutil

import pytest

from conftest import SCREENSHOTS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not os.path.exists(CHROMIUM):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise RuntimeError("REQUIRE_BROWSER=1 but no chromium at /usr/bin/chromium (apt-get install chromium)")
    pytest.skip("no chromium installed", allow_module_level=True)


@pytest.fixture(scope="module")
def context(server_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        browser.close()


def new_page(context, url):
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(url)
    pg.wait_for_selector("#tab-lexicon-button, button[role=tab]")
    return pg


@pytest.fixture(scope="module")
def page(context, server_url):
    return new_page(context, server_url)


def open_tab(page, title):
    """Click a tab; tabs that do not fit the width sit in Gradio's "More tabs" menu."""
    tab = page.get_by_role("tab", name=title)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
    else:
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown button", has_text=title).click()


def test_lexicon_tab(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    open_tab(page, "最小熵分词 Words")
    # segment first: the shipped full-corpus lexicon is used
    page.get_by_label("待分词文本 Text to segment").fill("中国共产党成功地召开了第十五次全国代表大会，高举邓小平理论伟大旗帜。")
    page.get_by_role("button", name="分词 Segment").click()
    page.wait_for_selector("#seg-ours .seg")
    page.wait_for_selector("#seg-jieba .seg")
    ours = page.locator("#seg-ours").inner_text()
    assert "中国" in ours and "旗帜" in ours
    summary = page.locator("#seg-summary").inner_text()
    assert "agreement" in summary and "shipped lexicon" in summary
    # then build a lexicon from the sample corpus
    page.get_by_role("button", name="构建词库 Build lexicon").click()
    page.wait_for_function(
        "() => document.querySelector('#lexicon-table')?.innerText.includes('中国')", timeout=60_000)
    built = page.locator("#lexicon-summary").inner_text()
    assert "nats" in built and "People's Daily" in built
    assert page.locator("#lexicon-table").inner_text().count("\n") > 5
    page.screenshot(path=str(SCREENSHOTS / "lexicon.png"), full_page=True)


def test_couplet_tab(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    open_tab(page, "对联机器人 Couplets")
    page.get_by_label("上联（≤ 34 字，可含分句的逗号） Upper line (≤ 34 characters, commas allowed)").fill(
        "风声雨声读书声，声声入耳")
    page.get_by_role("button", name="对下联 Write the lower line").click()
    page.wait_for_selector("#couplet-chart .tone-row")
    page.wait_for_function("() => document.querySelector('#couplet-table')?.innerText.includes('%')")
    chart = page.locator("#couplet-chart").inner_text()
    assert "上联" in chart and "读" in chart and "，" in chart
    assert page.locator("#couplet-chart .tone-row").count() == 6
    assert page.locator("#couplet-chart .tone-ok").count() > 0
    page.locator("#tab-couplet").get_by_text("模型卡：对联语言模型 Model card: the couplet LM").click()
    page.wait_for_selector("#tab-couplet img[src*='loss_curve']")
    assert page.get_by_text("python -m training.couplet_lm").first.is_visible()
    page.screenshot(path=str(SCREENSHOTS / "couplet.png"), full_page=True)


def test_sentiment_tab(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    open_tab(page, "注意力情感分类 Sentiment")
    page.get_by_label("评论（中文） Review (Chinese)").fill("酒店隔音很差，晚上吵得睡不着，前台态度也不好。")  # not in the data
    page.get_by_role("button", name="判断情感 Classify").click()
    page.wait_for_function("() => document.querySelector('#sentiment-label')?.innerText.includes('%')")
    shown = [line for line in page.locator("#sentiment-label").inner_text().split("\n") if line.strip()]
    assert shown[1] == "负面 negative", shown  # the headline under the component's title
    page.wait_for_function(
        "() => document.querySelector('#sentiment-attention img')?.naturalWidth > 500", timeout=60_000)
    assert "隔" in page.locator("#sentiment-highlights").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "sentiment.png"), full_page=True)


def test_dgcnn_tab(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    open_tab(page, "DGCNN 阅读理解")
    from demos import dgcnn

    question, passages = dgcnn.EXAMPLES[1]   # 隆柯龙类是哪一类的一个演化支？ — CMRC 2018 dev, 3 paragraphs
    page.get_by_label("问题 Question").fill(question)
    page.locator("#dgcnn-passages-input textarea").fill(passages)
    page.get_by_role("button", name="回答 Answer").click()
    page.wait_for_function("() => document.querySelector('#dgcnn-passages mark.qa-answer')")
    assert page.locator("#dgcnn-passages mark.qa-answer").inner_text() == "泰坦巨龙类"
    assert "泰坦巨龙类" in page.locator("#dgcnn-answer").inner_text()
    assert page.locator("#dgcnn-passages .qa-passage").count() == 3
    page.screenshot(path=str(SCREENSHOTS / "dgcnn.png"), full_page=True)


def test_gpt2_tab(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    open_tab(page, "GPT2_ML 中文生成")
    page.get_by_label("开头（可留空） Prompt (may be empty)").fill("今年以来，全国农村")
    page.get_by_label("新闻（人民日报 1998） News (People's Daily 1998)").check()
    page.get_by_role("button", name="生成 Generate").click()
    # streamed: a partial text shows while the notes still say "generating", then the final one
    page.wait_for_function("() => document.querySelector('#gpt2-notes')?.innerText.includes('tokens/s')")
    page.wait_for_function("() => !document.querySelector('#gpt2-notes').innerText.includes('generating')")
    text = page.locator("#gpt2-output textarea").input_value()
    assert text.startswith("今年以来，全国农村") and len(text) > 30
    page.locator("#tab-gpt2").get_by_text("模型卡与训练图 Model card and training plots").click()
    page.wait_for_selector("img[src*='training_curve']")
    page.screenshot(path=str(SCREENSHOTS / "gpt2.png"), full_page=True)


def test_spectrum_tab(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    open_tab(page, "光谱分类 Spectra")
    from demos import spectrum

    galaxy = next(e for e in spectrum.EXAMPLES if "/galaxy_" in e)
    page.locator("#spectrum-input input[type=file]").set_input_files(galaxy)
    page.get_by_role("button", name="分类 Classify").click()
    page.wait_for_function("() => document.querySelector('#spectrum-label')?.innerText.includes('%')")
    page.wait_for_function(
        "() => document.querySelector('#spectrum-plot img')?.naturalWidth > 500", timeout=60_000)
    assert "not LAMOST" in page.locator("#tab-spectrum").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "spectrum.png"), full_page=True)


def test_gan_qp_tab(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    open_tab(page, "GAN-QP 二次势")
    page.get_by_role("button", name="生成 Sample").click()
    page.wait_for_function("() => document.querySelector('#gan-qp-grid img')?.naturalWidth > 300")
    page.get_by_role("button", name="插值 Interpolate").click()
    page.wait_for_function("() => document.querySelector('#gan-qp-strip img')?.naturalWidth > 300")
    width = page.evaluate("() => document.querySelector('#gan-qp-strip img').naturalWidth")
    assert width == (10 * 34 + 2) * 3  # ten 32×32 steps with gutters, zoomed 3×
    assert page.get_by_text("not Inception FID").first.is_visible()
    assert page.get_by_text("WGAN-GP").first.is_visible()
    # the 2-D lab streams frames until its last step (1,000 steps by default: ~13 s for two losses)
    page.get_by_role("button", name="开始训练 Train").click()
    page.wait_for_function("() => document.querySelector('#gan-lab-notes')?.innerText.includes('50 / 1000')",
                           timeout=60_000)  # a first frame while it trains
    page.wait_for_function("() => document.querySelector('#gan-lab-notes')?.innerText.includes('1000 / 1000')",
                           timeout=120_000)
    page.wait_for_function("() => document.querySelector('#gan-lab-right img')?.naturalWidth == 360")
    assert "8/8" in page.locator("#gan-lab-notes").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "gan_qp.png"), full_page=True)


def test_o_gan_tab(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    open_tab(page, "O-GAN 判别器即编码器")
    page.get_by_role("button", name="生成 Sample").last.click()
    page.wait_for_function("() => document.querySelector('#o-gan-grid img')?.naturalWidth > 300")
    from demos import o_gan

    page.locator("#o-gan-input input[type=file]").set_input_files(o_gan.EXAMPLES[4])
    page.wait_for_selector("#o-gan-input img")
    page.get_by_role("button", name="编码并重建 Encode and reconstruct").click()
    page.wait_for_function("() => document.querySelector('#o-gan-recon img')?.naturalWidth == 128")
    assert "MSE" in page.locator("#o-gan-notes").inner_text()
    page.get_by_role("button", name="插值（起点：上面的图片） Interpolate (start: the picture above)").click()
    page.wait_for_function("() => document.querySelector('#o-gan-strip img')?.naturalWidth > 500")
    page.screenshot(path=str(SCREENSHOTS / "o_gan.png"), full_page=True)


def visible_labels(page, tab):
    """The labels and button texts a tab shows (Gradio renders a label as span[data-testid=block-info])."""
    texts = page.locator(f"#tab-{tab} [data-testid=block-info], #tab-{tab} button.primary").all_inner_texts()
    return [t.strip() for t in texts if t.strip()]


def test_language_switch(context, server_url):
    """English, then Chinese, then both: tab titles, labels, buttons and explanations follow; typed text stays."""
    import re

    pg = new_page(context, server_url)
    cjk = re.compile(r"[\u4e00-\u9fff]")
    open_tab(pg, "注意力情感分类 Sentiment")
    pg.get_by_label("评论（中文） Review (Chinese)").fill("房间很干净")
    pg.locator("#language").get_by_label("English").check()
    pg.get_by_role("button", name="Classify", exact=True).wait_for()
    assert pg.get_by_role("tab", name="Attention sentiment", exact=True).is_visible()
    assert pg.get_by_label("Review (Chinese)", exact=True).input_value() == "房间很干净"  # the user's text is kept
    labels = visible_labels(pg, "sentiment")
    assert "Review (Chinese)" in labels and not any(cjk.search(t) for t in labels), labels
    tab = pg.locator("#tab-sentiment").inner_text()
    assert "A first read of Attention is All You Need" in tab and "浅读" not in tab
    assert "Posts:" in pg.locator("#header").inner_text() and "原文" not in pg.locator("#header").inner_text()
    pg.screenshot(path=str(SCREENSHOTS / "language_en.png"), full_page=True)

    pg.locator("#language").get_by_label("中文", exact=True).check()
    pg.get_by_role("button", name="判断情感", exact=True).wait_for()
    labels = visible_labels(pg, "sentiment")
    assert "评论（中文）" in labels and all(cjk.search(t) for t in labels), labels
    tab = pg.locator("#tab-sentiment").inner_text()
    assert "浅读" in tab and "A first read" not in tab

    pg.locator("#language").get_by_label("中英 Both").check()
    pg.get_by_role("button", name="判断情感 Classify", exact=True).wait_for()
    tab = pg.locator("#tab-sentiment").inner_text()
    assert "浅读" in tab and "A first read" in tab
    pg.close()


def test_language_from_the_address(context, server_url):
    """?lang=en opens the page in English: every tab's title, the other tabs' labels too."""
    pg = new_page(context, server_url + "?lang=en")
    pg.get_by_role("tab", name="Attention sentiment", exact=True).wait_for()
    open_tab(pg, "Couplets")
    pg.get_by_role("button", name="Write the lower line", exact=True).wait_for()
    assert pg.get_by_label("Upper line (≤ 34 characters, commas allowed)", exact=True).is_visible()
    assert "A couplet robot by sequence labelling" in pg.locator("#tab-couplet").inner_text()
    pg.close()


def test_every_tab_title_fits_and_a_link_opens_a_tab(context, server_url):
    """At 1,400 px in the bilingual view all eight tabs are shown (before: four hid behind "⋯"); ?tab=couplet
    opens the couplet tab."""
    from demos import TABS
    from demos.language import translate

    pg = new_page(context, server_url + "?tab=couplet")
    pg.get_by_role("button", name="对下联 Write the lower line").wait_for()
    assert pg.get_by_role("tab", name="对联机器人 Couplets", exact=True).get_attribute("aria-selected") == "true"
    for tab in TABS:
        assert pg.get_by_role("tab", name=translate(tab.TITLE, "both"), exact=True).is_visible(), tab.TAB_ID
    assert not pg.get_by_role("button", name="More tabs").is_visible()
    pg.close()


def test_a_shared_link_opens_the_same_tab_language_and_results(context, server_url):
    """"Share these results" shows (and copies) a link; opening it shows the sentiment tab in English with the
    review and its verdict restored."""
    pg = new_page(context, server_url + "?lang=en")
    pg.get_by_role("tab", name="Attention sentiment", exact=True).wait_for()
    pg.get_by_label("Review (Chinese)", exact=True).fill("快递很快，包装完好，味道也不错。")
    pg.get_by_role("button", name="Classify", exact=True).click()
    pg.wait_for_function("() => document.querySelector('#sentiment-label')?.innerText.includes('%')")
    pg.get_by_role("button", name="Share these results", exact=True).click()
    pg.wait_for_function("() => document.querySelector('#share-link textarea')?.value.includes('deep_link=')")
    link = pg.locator("#share-link textarea").input_value()
    assert "tab=sentiment" in link and "lang=" not in link, link  # the language is in the saved state
    pg.close()
    shared = new_page(context, link)
    shared.get_by_role("button", name="Classify", exact=True).wait_for()
    assert shared.get_by_role("tab", name="Attention sentiment", exact=True).get_attribute("aria-selected") == "true"
    assert shared.get_by_label("Review (Chinese)", exact=True).input_value() == "快递很快，包装完好，味道也不错。"
    assert "positive" in shared.locator("#sentiment-label").inner_text()
    assert shared.locator("#language input:checked").get_attribute("value") == "en"
    shared.close()


def test_semi_bold_latin_text_is_drawn_from_one_complete_face(context, server_url):
    """Before: Gradio's semi-bold Source Sans Pro (weight 600: labels, **bold** Markdown) is a 55-glyph subset, so
    a bold word was drawn in two fonts ("A" from it, "ttention" from a fallback); so is its semi-bold Plex Mono."""
    pg = new_page(context, server_url)
    pg.get_by_role("button", name="判断情感 Classify").wait_for()
    faces = pg.evaluate("""async () => { await document.fonts.ready;
        return [...document.fonts].filter((f) => f.family.includes("Source Sans Pro"))
            .map((f) => [f.weight, f.status, f.unicodeRange]); }""")
    weights = {w for w, _, _ in faces}
    assert "600" not in weights and "700" in weights, faces
    css = pg.evaluate("() => fetch('theme.css').then((r) => r.text())")
    assert "SemiBold" not in css and "Medium" not in css and "SourceSansPro-Bold" in css
    pg.close()
