"""The DGCNN tab's adapter on the shipped checkpoint."""
import html
import json
import re

import gradio as gr
import pytest

from demos import dgcnn
from models.dgcnn import cmrc_f1

ANSWERS = {  # the gold answers of the tab's examples (CMRC 2018 dev and data/real_input/reading.json)
    "《战国无双3》是由哪两个公司合作开发的？": ["光荣和ω-force"],
    "隆柯龙类是哪一类的一个演化支？": ["泰坦巨龙类"],
    "铺轨（Making Tracks）是由什么人演出的美国音乐剧？": ["亚洲人"],
    "亚麻适宜生活在什么气候？": ["凉爽湿润气候"],
    "严嘉禾是哪里人？": ["湖北宜昌"],
    "榨汁杯多少钱？": ["129元"],
    "陈希夷号什么？": ["静山居士"],
    "这个药怎么服用？": ["开水冲服"],
}


def test_examples_are_cmrc_dev_and_real_input_questions_with_their_answers_in_a_passage():
    from training.reading_data import SOURCE

    assert len(dgcnn.EXAMPLES) == len(ANSWERS) + 1
    real = json.loads((dgcnn.REPO / "data" / "real_input" / "reading.json").read_text(encoding="utf-8"))
    real_questions = {q["question"] for item in real for q in item["questions"]}
    assert sum(q in real_questions for q in ANSWERS) == 4
    assert (SOURCE / "cmrc2018_dev.json.xz").exists()
    for question, passages in dgcnn.EXAMPLES[:-1]:
        assert any(a in passages for a in ANSWERS[question])
    question, passages = dgcnn.EXAMPLES[-1]
    assert question == dgcnn.EXAMPLES[0][0] and not any(a in passages for a in ANSWERS[question])
    assert len(dgcnn.split_passages(passages)) == 2


def test_examples_are_answered_with_a_span_of_their_passages_highlighted():
    answered = 0
    for question, passages in dgcnn.EXAMPLES[:-1]:
        text, ranked, marked = dgcnn.answer(question, passages)
        assert marked.count('class="qa-passage"') == len(dgcnn.split_passages(passages))
        if not ranked:
            assert "无答案 No answer" in text
            continue
        best = max(ranked, key=ranked.get)
        assert 0 < ranked[best] <= 1 and best in passages
        if ranked[best] >= dgcnn.THRESHOLD:
            answered += 1
            assert f"### {html.escape(best)}" in text
            assert re.search(r'class="qa-answer"[^>]*>' + re.escape(html.escape(best)) + "</mark>", marked)
    assert answered >= 5, answered


def test_the_shipped_reader_reads_cmrc_dev():
    """The first 100 CMRC 2018 dev questions with their paragraph, official scoring: measured EM 0.37 / F1 0.61 (the
    card's full dev set: 0.3955 / 0.6367); a broken loader, tokenizer or decoder gets ~0."""
    from models.dgcnn import read, scores
    from training.reading_data import SOURCE, articles, read_squad

    items = articles(read_squad(SOURCE / "cmrc2018_dev.json.xz"), "cmrc2018")
    rows = [{"question": q, "answers": a, "passage": art["paragraphs"][i]}
            for art in items for i, _, q, a in art["questions"]][:100]
    model, tok = dgcnn.MODEL.get()
    result = scores([read(model, tok, r["question"], [r["passage"]])["answer"] for r in rows], rows)["all"]
    assert result["em"] >= 0.3 and result["f1"] >= 0.5, result


def test_threshold_turns_a_weak_answer_into_no_answer():
    question, passages = dgcnn.EXAMPLES[4]
    text, ranked, marked = dgcnn.answer(question, passages, 1.0)
    assert "无答案 No answer" in text and "qa-answer" not in marked
    text, ranked, _ = dgcnn.answer(question, passages, 0.0)
    assert "无答案" not in text


def test_long_passage_is_read_in_windows_and_the_answer_found_at_the_end():
    question, passages = dgcnn.EXAMPLES[4]   # 严嘉禾是哪里人？
    own = dgcnn.split_passages(passages)[0]
    filler = "".join(p for _, ps in dgcnn.EXAMPLES[1:3] for p in dgcnn.split_passages(ps))
    long = filler[:3000] + "\n" + own
    text, ranked, marked = dgcnn.answer(question, long)
    assert "overlapping windows" in text
    best = max(ranked, key=ranked.get)   # found in the last window, and overlapping the gold answer
    assert best in own and cmrc_f1(best, ANSWERS[question]) > 0


@pytest.mark.parametrize("question,passages,message", [
    ("", "一篇文章。", "问题为空"),
    ("   ", "一篇文章。", "问题为空"),
    ("what does it mean?", "一篇文章。", "没有汉字"),
    ("😀😀？", "一篇文章。", "没有汉字"),
    ("好" * 101, "一篇文章。", "太长"),
    ("是什么意思？", "", "篇章为空"),
    ("是什么意思？", "\n\n  \n", "篇章为空"),
    ("是什么意思？", "only English here", "没有汉字"),
    ("是什么意思？", "文章。\n\nEnglish only", "第 2 篇里没有汉字"),
    ("是什么意思？", "\n\n".join(["文章。"] * 11), "篇章太多"),
    ("是什么意思？", "长" * 5001, "第 1 篇太长"),
    (None, "文章。", "请输入问题"),
    ("是什么意思？", 12, "请输入篇章"),
])
def test_bad_input_is_refused_with_a_message(question, passages, message):
    with pytest.raises(gr.Error, match=message):
        dgcnn.answer(question, passages)


def test_prefer_short_does_not_lengthen_the_examples_answers():
    for question, passages in dgcnn.EXAMPLES[:-1]:
        _, plain, _ = dgcnn.answer(question, passages, 0.0)
        _, short, _ = dgcnn.answer(question, passages, 0.0, 1.0)
        if plain and short:
            assert len(max(short, key=short.get)) <= len(max(plain, key=plain.get))
    with pytest.raises(gr.Error, match="短答案偏好"):
        dgcnn.answer(*dgcnn.EXAMPLES[0], dgcnn.THRESHOLD, 2.0)


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan"), "x"])
def test_bad_threshold(threshold):
    with pytest.raises(gr.Error, match="阈值"):
        dgcnn.answer(*dgcnn.EXAMPLES[0], threshold)


def test_control_characters_and_html_are_harmless():
    question, passages = dgcnn.EXAMPLES[5]
    text, ranked, marked = dgcnn.answer("\x00" + question + "\x07", passages + "\n\n<script>alert(1)</script>诗人。")
    assert "<script" not in marked and "script&gt;" in marked


def test_question_of_unknown_characters_only():
    with pytest.raises(gr.Error, match="没有模型认识的字"):
        dgcnn.answer("龘龘龘", "文章。")


def test_shipped_checkpoint_card():
    """Every shipped reader has its training command's card with its test score; the card the tab shows holds the
    threshold the tab uses (the ensemble's, when data/dgcnn/ensemble.json averages several readers)."""
    shown = dgcnn.CARD.read_text(encoding="utf-8")
    assert "CMRC 2018" in shown and f"{dgcnn.THRESHOLD:g}" in shown
    model, _ = dgcnn.MODEL.get()
    spec = json.loads(dgcnn.ENSEMBLE.read_text()) if dgcnn.ENSEMBLE.exists() else {"members": []}
    folders = [dgcnn.WEIGHTS] + [dgcnn.WEIGHTS / m for m in spec["members"]]
    readers = model.members if spec["members"] else [(model, None)]
    assert len(readers) == len(folders)
    for folder, (reader, _) in zip(folders, readers):
        card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
        history = json.loads((folder / "history.json").read_text())
        assert f"{history['test']['own']['em']:.4f}" in card and "python -m training.dgcnn" in card
        assert card.split("\n", 1)[1] in shown or not spec["members"]   # the ensemble's card holds every member's
        assert not (folder / "dgcnn.safetensors").exists()
        assert reader.cfg.words == 0 or (folder / "words.txt").exists()


def test_the_real_input_score_the_bench_wrote_is_shown_in_both_languages():
    r = json.loads(dgcnn.REAL_INPUT_SCORE.read_text(encoding="utf-8"))
    items = json.loads((dgcnn.REPO / r["set"]).read_text(encoding="utf-8"))
    assert r["passages"] == len(items) and r["n"] == sum(len(x["questions"]) for x in items) >= 100
    assert r["right"] == sum(k for k, _ in r["by_layout"].values()) and r["em"] == pytest.approx(r["right"] / r["n"])
    assert {x["layout"] for x in items} == set(r["by_layout"])
    assert all(n == sum(len(x["questions"]) for x in items if x["layout"] == lay)
               for lay, (_, n) in r["by_layout"].items())
    zh, en = dgcnn.real_input_text()
    assert all(f"{r['right']}/{r['n']}" in t and f"{r['em']:.1%}" in t for t in (zh, en))
    assert "真实输入" in zh and "Real input" in en and "古代人物" in zh and "classical biography" in en
    tab = r["as_tab"]   # as the tab answers, below its threshold: never more right than the best spans are
    assert tab["right"] <= min(r["right"], tab["answered"]) and tab["refused"] <= tab["unanswerable"]
    assert all(f"{tab['right']}/{r['n']}" in t and f"{tab['threshold']:g}" in t for t in (zh, en))
    with gr.Blocks() as page:   # in the tab's explanation, in both languages
        dgcnn.build_tab()
    explanation = next(b for b in page.blocks.values() if isinstance(b, gr.Markdown)).value
    assert zh.strip() in explanation and en.strip() in explanation
