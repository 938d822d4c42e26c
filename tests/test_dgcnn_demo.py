"""The DGCNN tab's adapter on the shipped checkpoint."""
import json
import re

import gradio as gr
import pytest

from demos import dgcnn

ANSWERS = {  # the gold answers of the tab's examples (held-out test questions; see training/qa_data.py)
    "成语凄风冷雨指什么？": "凄风寒冷的风",
    "成语敌力角气出自哪里？": "论衡·譭时",
    "使酒骂坐的拼音是什么？": "shǐ jiǔ mà zuò",
    "房千里字什么？": "鹄举",
    "陆畅是什么地方人？": "吴郡",
    "来廷绍哪年出生？": "一一五○",
    "邵博号什么？": "西山",
}


def test_examples_are_test_questions_with_their_answers_in_a_passage():
    assert len(dgcnn.EXAMPLES) == len(ANSWERS) + 1
    for question, passages in dgcnn.EXAMPLES[:-1]:
        assert ANSWERS[question] in passages
    question, passages = dgcnn.EXAMPLES[-1]
    assert "凄风" not in passages and len(dgcnn.split_passages(passages)) == 2


def test_most_examples_are_answered_exactly_and_highlighted():
    right = 0
    for question, passages in dgcnn.EXAMPLES[:-1]:
        text, ranked, marked = dgcnn.answer(question, passages)
        best = max(ranked, key=ranked.get)
        assert 0 < ranked[best] <= 1
        assert marked.count('class="qa-passage"') == len(dgcnn.split_passages(passages))
        if best == ANSWERS[question]:
            right += 1
        if ranked[best] >= dgcnn.THRESHOLD:
            assert f"### {best}" in text
            assert '<mark class="qa-answer" title="start×end' in marked
            assert re.search(r'class="qa-answer"[^>]*>' + re.escape(best) + "</mark>", marked)
    assert right >= 5, right   # the card's test EM is far above 5/7; a broken loader or decoder gets ~0


def test_threshold_turns_a_weak_answer_into_no_answer():
    question, passages = dgcnn.EXAMPLES[0]
    text, ranked, marked = dgcnn.answer(question, passages, 1.0)
    assert "无答案 No answer" in text and "qa-answer" not in marked
    text, ranked, _ = dgcnn.answer(question, passages, 0.0)
    assert "无答案" not in text


def test_long_passage_is_read_in_windows_and_the_answer_found_at_the_end():
    question, passages = dgcnn.EXAMPLES[4]   # 陆畅是什么地方人？
    own = next(p for p in dgcnn.split_passages(passages) if "陆畅" in p)
    filler = "。".join(p for q, ps in dgcnn.EXAMPLES[:3] for p in dgcnn.split_passages(ps))
    long = (filler * 5)[:3000] + "\n" + own
    text, ranked, marked = dgcnn.answer(question, long)
    assert "overlapping windows" in text
    assert max(ranked, key=ranked.get) == ANSWERS[question]


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


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan"), "x"])
def test_bad_threshold(threshold):
    with pytest.raises(gr.Error, match="阈值"):
        dgcnn.answer(*dgcnn.EXAMPLES[0], threshold)


def test_control_characters_and_html_are_harmless():
    question, passages = dgcnn.EXAMPLES[3]
    text, ranked, marked = dgcnn.answer("\x00" + question + "\x07", passages + "\n\n<script>alert(1)</script>诗人。")
    assert "<script" not in marked and "script&gt;" in marked


def test_question_of_unknown_characters_only():
    with pytest.raises(gr.Error, match="没有模型认识的字"):
        dgcnn.answer("龘龘龘", "文章。")


def test_shipped_checkpoint_card():
    card = (dgcnn.WEIGHTS / "MODEL_CARD.md").read_text(encoding="utf-8")
    test = json.loads((dgcnn.WEIGHTS / "history.json").read_text())["test"]["all"]
    assert f"{test['em']:.4f}" in card and "python -m training.dgcnn" in card
    assert (dgcnn.WEIGHTS / "dgcnn.safetensors").stat().st_size < 8 * 2**20
