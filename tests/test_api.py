"""Every endpoint of the app, called over HTTP through gradio_client against the in-process server."""
from pathlib import Path

import pytest
from gradio_client import Client

from demos import dgcnn, gan_qp, lexicon, o_gan, spectrum


@pytest.fixture(scope="module")
def client(server_url):
    return Client(server_url, verbose=False)


def test_every_tab_endpoint_is_named(client):
    names = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {"/lexicon_build", "/lexicon_segment", "/couplet_generate", "/sentiment_classify",
            "/sentiment_attention", "/gan_qp_sample", "/gan_qp_interpolate", "/o_gan_sample", "/o_gan_reconstruct",
            "/o_gan_interpolate", "/dgcnn_answer", "/gpt2_generate"} <= names


def test_lexicon_build_then_segment_with_the_session_lexicon(client):
    table, summary, files, plot, = client.predict(lexicon.SOURCES[0], "", None, -6, 2, 4, 4,
                                                  api_name="/lexicon_build")
    words = [row[0] for row in table["data"]]
    assert table["headers"][0] == "词 word" and "中国" in words[:20]
    assert "nats" in summary and len(files) == 2
    ours, theirs, seg_summary = client.predict("中国经济继续保持稳定增长。", api_name="/lexicon_segment")
    assert ">中国<" in ours and ">经济<" in ours and "agreement" in seg_summary


def test_lexicon_build_from_pasted_text(client):
    text = "人工智能正在改变世界。我们研究人工智能。人工智能的发展很快。很多公司投资人工智能。世界变化很快。" * 20
    table, *_ = client.predict(lexicon.SOURCES[1], text, None, -4, 1, 1, 6, api_name="/lexicon_build")
    assert any("人工智能" in row[0] or "智能" in row[0] for row in table["data"])


def test_errors_come_back_as_messages(client):
    with pytest.raises(Exception, match="为空"):
        client.predict("", api_name="/lexicon_segment")
    with pytest.raises(Exception, match="less than minimum"):
        client.predict(lexicon.SOURCES[0], "", None, -30, 2, 4, 4, api_name="/lexicon_build")


def test_couplet_generate(client):
    table, chart, notes = client.predict("晚风摇树树还挺", 3, "最优 k-best", 1.0, True, 0, 1.0, 1.0,
                                         api_name="/couplet_generate")
    lines = [row[1] for row in table["data"]]
    assert len(lines) == 3 and all(len(x) == 7 for x in lines)
    assert "tone-row" in chart
    with pytest.raises(Exception, match="只能是汉字"):
        client.predict("abc明月", 3, "最优 k-best", 1.0, False, 0, 1.0, 1.0, api_name="/couplet_generate")


def test_sentiment_classify_and_attention(client):
    label, highlights, notes = client.predict("房间很干净，服务也很好，下次还来。", api_name="/sentiment_classify")
    assert label["label"] == "正面 positive"
    assert highlights.count('class="contrib"') == len("房间很干净，服务也很好，下次还来。")
    picture = client.predict("房间很干净，服务也很好，下次还来。", api_name="/sentiment_attention")
    assert picture.endswith(".png") and Path(picture).stat().st_size > 5_000
    with pytest.raises(Exception, match="没有汉字"):
        client.predict("great", api_name="/sentiment_classify")


def test_gan_qp_sample_and_interpolate(client):
    from PIL import Image

    grid = client.predict("fashion_qp-l1", 5, 9, 1.0, api_name="/gan_qp_sample")
    with Image.open(grid) as im:
        assert im.size == ((3 * 34 + 2) * gan_qp.ZOOM,) * 2
    strip = client.predict("mnist_qp-l1", 1, 2, 4, 1.0, api_name="/gan_qp_interpolate")
    with Image.open(strip) as im:
        assert im.size == ((4 * 34 + 2) * gan_qp.ZOOM, 36 * gan_qp.ZOOM)
    with pytest.raises(Exception, match="not in the list of choices|没有这个模型"):
        client.predict("celeba", 5, 9, 1.0, api_name="/gan_qp_sample")


def test_o_gan_reconstruct_and_interpolate(client):
    from gradio_client import handle_file
    from PIL import Image

    seen, recon, notes = client.predict(handle_file(o_gan.EXAMPLES[2]), api_name="/o_gan_reconstruct")
    for path in (seen, recon):
        with Image.open(path) as im:
            assert im.size == (32 * o_gan.ZOOM,) * 2
    assert "MSE" in notes
    strip = client.predict(handle_file(o_gan.EXAMPLES[0]), handle_file(o_gan.EXAMPLES[1]), 3,
                           api_name="/o_gan_interpolate")
    with Image.open(strip) as im:
        assert im.size == ((3 * 34 + 2) * o_gan.ZOOM, 36 * o_gan.ZOOM)
    grid = client.predict(1, 4, 1.0, api_name="/o_gan_sample")
    with Image.open(grid) as im:
        assert im.size == ((2 * 34 + 2) * o_gan.ZOOM,) * 2


def test_dgcnn_answer(client):
    question, passages = dgcnn.EXAMPLES[4]   # 严嘉禾是哪里人？ over a passage we wrote and a distractor
    text, ranked, marked = client.predict(question, passages, dgcnn.THRESHOLD, 0.3, api_name="/dgcnn_answer")
    want_text, want_ranked, want_marked = dgcnn.answer(question, passages, dgcnn.THRESHOLD, 0.3)
    assert ranked["label"] == max(want_ranked, key=want_ranked.get) and ranked["label"] in passages
    assert text == want_text and marked == want_marked and "湖北宜昌" in ranked["label"]
    assert '<mark class="qa-answer"' in marked
    with pytest.raises(Exception, match="篇章太多"):
        client.predict(question, "\n\n".join(["文章。"] * 11), 0.1, 0.0, api_name="/dgcnn_answer")


def test_spectrum_classify(client):
    from gradio_client import handle_file

    qso = next(e for e in spectrum.EXAMPLES if "/qso_" in e)
    label, plot, notes = client.predict(handle_file(qso), api_name="/spectrum_classify")
    assert {c["label"] for c in label["confidences"]} == set(spectrum.NAMES.values())
    assert plot.endswith(".png") and Path(plot).stat().st_size > 5_000
    # a file of the wrong kind reaches the adapter, which says what is wrong in both languages (Gradio's own
    # file-type check answered in English only, on top of ours in the browser)
    with pytest.raises(Exception, match="第 1 行不是两列.* / line 1 does not have two columns"):
        client.predict(handle_file(str(spectrum.WEIGHTS / "config.json")), api_name="/spectrum_classify")


def test_gpt2_generate_streams(client):
    job = client.submit("春风", "poem", 40, 1.0, 20, 0.95, 1.1, 1, 0, False, "", 0, 0, api_name="/gpt2_generate")
    updates = list(job)                                     # every streamed (text, notes) update
    text, notes = job.result()
    assert len(updates) > 3 and text.startswith("春风") and "tokens/s" in notes
    again, _ = client.predict("春风", "poem", 40, 1.0, 20, 0.95, 1.1, 1, 0, False, "", 0, 0, api_name="/gpt2_generate")
    assert again == text                                    # same seed, same text
    with pytest.raises(Exception, match="only the embedded model and those its operator lists"):
        client.predict("春风", "poem", 40, 1.0, 20, 0.95, 1.1, 1, 0, False, "/no/such/dir", 0, 0,
                       api_name="/gpt2_generate")
