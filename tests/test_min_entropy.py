"""Unit tests of models/min_entropy.py on synthetic corpora whose true words are known."""
import math
import random

import pytest

from models.min_entropy import (LAT, NUM, Lexicon, LexiconConfig, build_lexicon, display, load, read_header, save,
                                 span_prf, to_atoms)

POOL = [chr(c) for c in range(0x4E00, 0x4E00 + 400)]


def planted_corpus(seed=0, n_words=40, n_lines=3000):
    """Sentences drawn from a fixed vocabulary of 2–3 character words plus single characters."""
    rng = random.Random(seed)
    chars = rng.sample(POOL, 3 * n_words + 20)
    words = ["".join(chars[3 * i:3 * i + rng.choice([2, 3])]) for i in range(n_words)]
    singles = chars[3 * n_words:]
    vocab = words + singles
    weights = [rng.uniform(1, 3) for _ in words] + [rng.uniform(1, 3) for _ in singles]

    def sentence():
        return rng.choices(vocab, weights, k=rng.randint(4, 12))

    return words, [sentence() for _ in range(n_lines)]


def test_span_prf_by_hand():
    # gold 中国 | 人民 | 银行 ; predicted 中国人民 | 银行 → 1 of 2 predicted spans right, 1 of 3 gold spans found
    p, r, f = span_prf([["中国人民", "银行", " "]], [["中国", "人民", "银行"]])
    assert (p, r) == (0.5, 1 / 3) and f == pytest.approx(0.4)


def test_atoms_collapse_digit_and_letter_runs_and_map_back():
    text = "１９９８年GDP增长3.5%——好"
    atoms, starts = to_atoms(text)
    pieces = [text[starts[i]:starts[i + 1]] for i in range(len(atoms))]
    assert pieces == ["１９９８", "年", "GDP", "增", "长", "3.5%", "——", "好"]
    assert "".join(map(chr, atoms)) == NUM + "年" + LAT + "增长" + NUM + "\x00好"


def test_recovers_planted_words_and_segments_them():
    words, sentences = planted_corpus()
    lex = build_lexicon(["".join(s) for s in sentences], LexiconConfig(min_proba=1e-3, min_pmi=1, word_pmi=1))
    found = [w for w in words if w in lex.counts]
    assert len(found) >= 0.9 * len(words), sorted(set(words) - set(found))
    f1 = span_prf([lex.cut("".join(s)) for s in sentences[:300]], sentences[:300])[2]
    assert f1 >= 0.9


def test_merging_lowers_average_information_per_character():
    """The post's principle: reading by words gives fewer nats per character than reading by characters."""
    _, sentences = planted_corpus()
    lex = build_lexicon(["".join(s) for s in sentences], LexiconConfig(min_proba=1e-3, word_pmi=1))
    assert lex.entropy_per_char() < lex.char_entropy - 0.3


def test_low_pmi_pair_is_cut_high_pmi_pair_is_kept():
    rng = random.Random(0)
    a, b, c, d = "甲乙丙丁"
    filler = [chr(0x5000 + i) for i in range(50)]
    lines = []
    for _ in range(2000):
        # 甲乙 always together; 丙 and 丁 placed independently among fillers
        toks = rng.choices(filler, k=6) + [a + b] + rng.choices([c, d], k=2)
        rng.shuffle(toks)
        lines.append("".join(toks))
    lex = build_lexicon(lines, LexiconConfig(min_proba=1e-5, min_pmi=1.0, word_pmi=1.0))
    assert a + b in lex.counts
    assert lex.pmi[a + b] > 1.0
    # pair probability p(丙丁) ≈ p(丙)p(丁)-ish → PMI far below 1: never merged
    text = "".join(lines)
    n = len(text)
    p_cd = text.count(c + d) / n
    assert math.log(p_cd / (text.count(c) / n * text.count(d) / n)) < 1.0
    assert c + d not in lex.counts


def test_streaming_in_small_blocks_gives_the_same_lexicon():
    _, sentences = planted_corpus(n_lines=500)
    lines = ["".join(s) for s in sentences]
    one = build_lexicon(lines, LexiconConfig(min_proba=1e-4))
    many = build_lexicon(lines, LexiconConfig(min_proba=1e-4, block_chars=300))
    assert one.counts == many.counts


def test_corpus_can_be_streamed_twice_from_a_callable():
    _, sentences = planted_corpus(n_lines=300)
    lines = ["".join(s) for s in sentences]
    assert build_lexicon(lambda: iter(lines)).counts == build_lexicon(lines).counts


@pytest.mark.parametrize("text", [
    "", "   ", "hello world", "😀😀 emoji 👍", "a\x00b\x07c", "中文，English；混排！1998年", "——……。。。",
    "\n\n第一行\n第二行\n",
])
def test_cut_gives_back_exactly_the_input(text):
    lex = Lexicon({"第一": 3, "中文": 5, "年": 2, "第": 1, "一": 1})
    assert "".join(lex.cut(text)) == text


def test_repeated_punctuation_is_one_token():
    assert Lexicon({"好": 1}).cut("好——好……好。。") == ["好", "——", "好", "……", "好", "。", "。"][:5] + ["。。"]


def test_build_rejects_corpus_without_word_characters():
    with pytest.raises(ValueError):
        build_lexicon(["，。！？", "   "])


def test_display_names_atoms():
    assert display(NUM + "年") == "〈数〉年"
    assert display(LAT + "公司") == "〈字母〉公司"


def test_save_and_load_round_trip(tmp_path):
    _, sentences = planted_corpus(n_lines=500)
    lex = build_lexicon(["".join(s) + "１９９８年" for s in sentences], LexiconConfig(min_proba=1e-3))
    assert NUM + "年" in lex.counts
    save(lex, tmp_path / "lex", "# card", meta={"note": "x"})
    back, header = load(tmp_path / "lex"), read_header(tmp_path / "lex")
    assert back.counts == lex.counts and header["note"] == "x" and header["n_chars"] == lex.n_chars
    assert back.pmi == pytest.approx(lex.pmi, abs=1e-4)
    assert back.cut("１９９８年") == lex.cut("１９９８年")
    assert "〈数〉年" in (tmp_path / "lex" / "lexicon.tsv").read_text(encoding="utf-8")
    assert (tmp_path / "lex" / "MODEL_CARD.md").read_text() == "# card"


def test_a_corpus_too_large_to_keep_is_streamed_twice_with_the_same_result():
    _, sentences = planted_corpus(n_lines=500)
    lines = ["".join(s) for s in sentences]
    kept = build_lexicon(lambda: iter(lines), LexiconConfig(min_proba=1e-4, block_chars=300))
    streamed = build_lexicon(lambda: iter(lines), LexiconConfig(min_proba=1e-4, block_chars=300, cache_atoms=500))
    assert kept.counts == streamed.counts


def _split_recursively(keep, fs, fl, pmi, max_len):
    """The rule as the docstring states it, written as a plain recursion: cut a too-long piece at its weakest gap
    (the leftmost of equal ones), then look at both halves."""
    keep = keep.copy()

    def split(first_gap, n_atoms):  # a piece: the gap after its first atom, its length in atoms
        if n_atoms <= max_len:
            return
        gaps = list(range(first_gap, first_gap + n_atoms - 1))
        cut = min(gaps, key=lambda g: (pmi[g], g))
        keep[cut] = False
        split(first_gap, cut - first_gap + 1)
        split(cut + 1, first_gap + n_atoms - 1 - cut)

    for s, n in zip(fs.tolist(), fl.tolist()):
        split(s, n)
    return keep


def test_long_runs_are_split_as_the_recursion_would():
    import numpy as np

    from models.min_entropy import _fragments, _split_long_runs

    rng = np.random.default_rng(0)
    for _ in range(200):
        n, max_len = int(rng.integers(5, 120)), int(rng.integers(2, 6))
        word = rng.random(n) < 0.95
        keep = (rng.random(n - 1) < 0.85) & word[:-1] & word[1:]
        pmi = rng.integers(0, 4, n - 1).astype(float)  # few values: many ties
        fs, fl = _fragments(keep, word)
        expected = _split_recursively(keep, fs, fl, pmi, max_len)
        got = _split_long_runs(keep.copy(), fs, fl, lambda pos: pmi[pos], max_len)
        assert (got == expected).all()
        assert (_fragments(got, word)[1] <= max_len).all()


def test_threads_and_block_sizes_do_not_change_the_lexicon():
    _, sentences = planted_corpus(n_lines=800)
    lines = ["".join(s) + "，１９９８年" for s in sentences]
    one = build_lexicon(lines, LexiconConfig(min_proba=1e-4, threads=1))
    many = build_lexicon(lines, LexiconConfig(min_proba=1e-4, threads=3, block_chars=200))
    assert one.counts == many.counts and one.pmi == many.pmi


def test_tally_sums_counts_and_keeps_names_across_merges():
    from collections import Counter

    import numpy as np

    from models.min_entropy import _Tally

    rng = np.random.default_rng(1)
    tally, expected = _Tally(), Counter()
    for _ in range(30):
        keys = np.unique(rng.integers(0, 5000, 400)).astype(np.uint64)
        counts = rng.integers(1, 5, keys.size)
        tally.add(keys, counts, keys.astype(str))
        expected.update(dict(zip(keys.tolist(), counts.tolist())))
    keys, counts, names = tally.result(np.uint64)
    assert dict(zip(keys.tolist(), counts.tolist())) == expected
    assert names.tolist() == [str(k) for k in keys.tolist()]


def test_build_reports_progress_by_block_up_to_one(tmp_path):
    from models.min_entropy import file_stream

    _, sentences = planted_corpus(n_lines=500)
    path = tmp_path / "corpus.txt"
    path.write_text("".join("".join(s) + "\n" for s in sentences), encoding="utf-8")
    lines, size = file_stream(path)
    assert abs(size - sum(len(l) + 1 for l in lines())) < 5  # characters, estimated from bytes  # noqa: E741
    seen = []
    build_lexicon(lines, LexiconConfig(min_proba=1e-3, block_chars=500), progress=lambda f, m: seen.append(f),
                  size=size)
    assert len(seen) > 10 and seen == sorted(seen) and seen[-1] == 1.0 and 0 < seen[5] < 0.45


def test_file_stream_yields_the_lines_of_the_file_across_its_read_blocks(tmp_path):
    from models.min_entropy import file_stream

    # over 4 M characters (one read), a line across the boundary, blank lines, CRLF and no final newline
    text = "".join(f"第{i}行 line {i}\r\n" if i % 7 else "\n" for i in range(400_000)) + "最后一行"
    path = tmp_path / "corpus.txt"
    path.write_bytes(text.encode("utf-8"))
    lines, _ = file_stream(path)
    with open(path, encoding="utf-8") as f:
        assert list(lines()) == [line.rstrip("\n") for line in f]
    assert list(lines())[-1] == "最后一行" and list(lines())[1] == "第1行 line 1"


def genre_mix(n_classical=20000):
    """Modern lines (planted words and single characters, a 的 in the middle) shuffled among 'classical' lines:
    runs of the words' characters one by one, with no marker, as in verse where nearly every character is a word."""
    words, sentences = planted_corpus(n_lines=2000)
    rng = random.Random(1)
    modern = [s[:len(s) // 2] + ["的"] + s[len(s) // 2:] for s in sentences]
    chars = sorted({c for w in words for c in w})
    classical = ["".join(rng.choices(chars, k=rng.randint(5, 12))) for _ in range(n_classical)]
    mix = ["".join(s) for s in modern] + classical
    rng.shuffle(mix)
    return sentences, modern, classical, mix


def test_a_lexicon_per_genre_keeps_the_words_a_mixture_dilutes():
    """The classical lines raise the words' characters' probabilities until their PMI no longer passes: one
    lexicon over the mix loses words on the modern lines (F1 0.938 when written); the modern lexicon keeps them."""
    from models.min_entropy import build_by_genre

    _, modern, classical, mix = genre_mix()
    cfg = LexiconConfig(min_proba=1e-3, min_pmi=1, word_pmi=2)
    single, by_genre = build_lexicon(mix, cfg), build_by_genre(mix, cfg)
    test = modern[:300]
    assert span_prf([single.cut("".join(s)) for s in test], test)[2] < 0.96
    assert span_prf([by_genre.cut("".join(s)) for s in test], test)[2] > 0.99
    assert all(by_genre.model.genre("".join(s)) == "modern" for s in modern)
    assert sum(by_genre.model.genre(c) == "classical" for c in classical) > 0.85 * len(classical)


def test_genre_model_reads_a_modern_line_without_any_marker():
    from models.min_entropy import MODERN_MARKERS, fit_genres

    sentences, _, _, mix = genre_mix(5000)
    model = fit_genres(lambda: iter(mix))
    bare = [line for line in ("".join(s) for s in sentences[:600])  # modern lines without their 的
            if not any(c in MODERN_MARKERS for c in line)]  # (the planted words may hold 了 or 个: not those)
    assert len(bare) > 200
    assert sum(model.genre(line, prior=False) == "modern" for line in bare) > 0.9 * len(bare)


def test_line_genres_label_each_line_as_the_model_does_and_cut_keeps_every_character(tmp_path):
    from models.min_entropy import build_by_genre, fit_genres, line_genres, load_by_genre, save_by_genre

    _, _, _, mix = genre_mix(3000)
    model = fit_genres(lambda: iter(mix), block_chars=5000)
    labels, chars = line_genres(lambda: iter(mix), model, block_chars=5000)
    assert labels.tolist() == [model.genre(t) == "modern" for t in mix]
    assert chars.tolist() == [sum(len(t) + 1 for t, m in zip(mix, labels) if m == want) for want in (True, False)]
    lexicons = build_by_genre(mix, LexiconConfig(min_proba=1e-3))
    text = "\n".join(mix[:5]) + "\r\n１９９８年，" + mix[5] + "\n"
    assert "".join(lexicons.cut(text)) == text
    save_by_genre(lexicons, tmp_path / "g", "# card")
    back = load_by_genre(tmp_path / "g")
    assert back.cut(text) == lexicons.cut(text)
    assert back.model.score(mix[0]) == pytest.approx(model.score(mix[0]), abs=1e-2)


def test_build_by_genre_is_the_same_whether_the_corpus_is_kept_or_read_again():
    from models.min_entropy import build_by_genre

    _, _, _, mix = genre_mix(3000)
    kept = build_by_genre(mix, LexiconConfig(min_proba=1e-3, block_chars=5000))
    streamed = build_by_genre(mix, LexiconConfig(min_proba=1e-3, block_chars=5000, cache_atoms=10_000))
    assert kept.lexicons["modern"].n_words > 20  # the planted words (the classical lines are random characters)
    assert {g: x.counts for g, x in kept.lexicons.items()} == {g: x.counts for g, x in streamed.lexicons.items()}


def test_lexicon_command_builds_by_genre_from_files_and_scores_the_gold(tmp_path, monkeypatch):
    from models.min_entropy import load_by_genre
    from training import min_entropy_lexicon

    sentences, modern, _, mix = genre_mix()
    (tmp_path / "corpus.txt").write_text("\n".join(mix), encoding="utf-8")
    (tmp_path / "plain.txt").write_text("\n".join("".join(s) for s in modern[:200]), encoding="utf-8")
    (tmp_path / "gold.txt").write_text("\n".join(" ".join(s) for s in modern[:200]), encoding="utf-8")
    monkeypatch.setattr(min_entropy_lexicon, "prepare",
                        lambda: {"plain": tmp_path / "plain.txt", "gold": tmp_path / "gold.txt"})
    min_entropy_lexicon.main(["--corpus", str(tmp_path / "corpus.txt"), "--by-genre", "--min-proba", "1e-3",
                              "--word-pmi", "2", "--out", str(tmp_path / "out")])
    card = (tmp_path / "out" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "**By genre**" in card and "(modern) +" in card and "**F1 1.000**" in card
    back = load_by_genre(tmp_path / "out")
    assert back.cut("".join(modern[0])) == modern[0]
