"""Light Markdown (chat messages and comments): a plain line is written as its own
paragraph without the parser; whatever it writes must be what the parser and the sanitiser
would have written."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from consult.core.markdown import _clean, _light, is_plain, render_light

#: Characters Markdown or HTML care about, spaces of every kind, and ordinary text.
TRICKY = list("\\`*_[]<>&!#~|=+-.):\"' \t\n\r\u00a0\u3000\u200b\u2028") + list("a1中，。")


def parsed(text: str) -> str:
    return str(_clean(_light.render(text)))


@settings(max_examples=400)
@given(st.text(alphabet=st.sampled_from(TRICKY), max_size=12) | st.text(max_size=20))
@example('He said "hi" and left')
@example("-5 度")
@example("10) 号")
@example("1.5 公里")
def test_a_plain_line_is_written_as_the_parser_would_write_it(text):
    assert str(render_light(text)) == parsed(text)


@pytest.mark.parametrize(
    "text",
    [
        "3号楼的路灯坏了，晚上很暗。",
        "同意“先修北门”",
        "1.5 公里",
        "-5 度也要开会",
        "bench:12:ab",
        "#议题 a|b",
    ],
)
def test_ordinary_messages_are_plain(text):
    assert is_plain(text)
    assert str(render_light(text)) == f"<p>{text}</p>\n"


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*很* 重要", "<p><em>很</em> 重要</p>\n"),
        ("1. 先修灯", "<ol>\n<li>先修灯</li>\n</ol>\n"),
        ("- 北门", "<ul>\n<li>北门</li>\n</ul>\n"),
        ("> 引用", "<blockquote>\n<p>引用</p>\n</blockquote>\n"),
        ("a & b", "<p>a &amp; b</p>\n"),
        ("<b>x</b>", "<p>&lt;b&gt;x&lt;/b&gt;</p>\n"),
        ("第一行\n第二行", "<p>第一行<br>\n第二行</p>\n"),
        ("  缩进 ", "<p>缩进</p>\n"),
    ],
)
def test_anything_more_goes_through_the_parser(text, html):
    assert not is_plain(text)
    assert str(render_light(text)) == html
