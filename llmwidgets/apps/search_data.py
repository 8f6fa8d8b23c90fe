"""A search task over the Analects (论语): passages, queries and their relevance labels.

* :func:`lunyu_passages` - the 512 passages of ``lunyu`` (one paragraph each), named
  ``"学而篇 1"`` ... by chapter and position;
* :data:`LUNYU_QUERIES` - 24 queries written for chapter 6 in modern Chinese, each a
  paraphrase of a topic the Analects discuss, with the **key phrase** that defines its
  relevance labels;
* :func:`relevant_passages` - the labels: a passage is relevant to a query when it
  contains the query's key phrase (e.g. every passage with 问孝, "asked about filial
  piety", for "学生向孔子请教什么是孝"). The source of the labels is therefore a string
  search of the text itself, reproducible and stated; it misses passages that treat a
  topic in other words, so recall is measured against these labels, not against a
  reader's judgement.

The queries share some characters with their passages (孝 in both) and not others
(请教, 什么 are modern): the ground where lexical and dense search differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmwidgets.core.data import load_text
from llmwidgets.core.validate import check_str

__all__ = ["LUNYU_QUERIES", "Passage", "SearchQuery", "lunyu_passages", "relevant_passages"]


@dataclass(frozen=True)
class Passage:
    """One paragraph of the Analects."""

    id: str  # chapter and 1-based position, e.g. "学而篇 1"
    text: str  # the paragraph


@dataclass(frozen=True)
class SearchQuery:
    """A query and the phrase that defines which passages are relevant to it."""

    text: str  # the query, in modern Chinese
    key: str  # relevant passages are those that contain this phrase
    gloss: str  # what the query asks, in English


LUNYU_QUERIES = tuple(
    SearchQuery(*q)
    for q in (
        ("学生向孔子请教什么是孝", "问孝", "students ask what filial piety is"),
        ("弟子请教仁的含义", "问仁", "disciples ask about benevolence"),
        ("怎样治理国家，请教为政之道", "问政", "how to govern"),
        ("什么样的人才算君子", "问君子", "what makes a gentleman"),
        ("谁是真正好学的人", "好学", "who truly loves learning"),
        ("对管仲的评价", "管仲", "judgements of Guan Zhong"),
        ("如何侍奉父母", "父母", "serving one's parents"),
        ("和朋友交往之道", "朋友", "how to treat friends"),
        ("国家政治清明的时候应当怎样做", "邦有道", "when the state follows the Way"),
        ("国家政治黑暗的时候应当怎样做", "邦无道", "when the state has lost the Way"),
        ("如何看待鬼神", "鬼神", "ghosts and spirits"),
        ("尧的功德", "尧", "the virtue of Yao"),
        ("贫穷的时候应该怎样生活", "贫", "living in poverty"),
        ("关于勇敢", "勇", "about courage"),
        ("宰我的言行", "宰我", "what Zai Wo said and did"),
        ("关于祭祀的规矩", "祭", "rules of sacrifice"),
        ("讨厌花言巧语、装出和善面色的人", "巧言令色", "clever words and a pleasing face"),
        ("樊迟向老师请教了哪些问题", "樊迟", "Fan Chi's questions"),
        ("梦见周公", "周公", "the Duke of Zhou"),
        ("隐居避世的人", "隐", "hermits who withdraw from the world"),
        ("什么事情是可耻的", "耻", "what is shameful"),
        ("见到利益的时候要想到道义", "利", "profit and righteousness"),
        ("关于射箭比赛", "射", "archery"),
        ("喝酒的分寸", "酒", "drinking wine"),
    )
)


def lunyu_passages(text: str | None = None) -> list[Passage]:
    """Every paragraph of the Analects as a :class:`Passage`.

    Args:
        text: the corpus in :func:`llmwidgets.load_text`'s layout (a chapter line, then
            one line per paragraph; chapters separated by a blank line); ``None`` loads
            ``lunyu``.
    """
    text = load_text("lunyu") if text is None else check_str("text", text)
    out = []
    for block in text.strip().split("\n\n"):
        chapter, *paragraphs = block.split("\n")
        out += [Passage(f"{chapter} {i}", p) for i, p in enumerate(paragraphs, start=1) if p]
    if not out:
        raise ValueError("no passage found: expected a chapter line followed by paragraphs")
    return out


def relevant_passages(passages: list[Passage], key: str) -> set[int]:
    """The positions of the passages that contain ``key`` (the relevance labels).

    Raises:
        ValueError: when no passage contains it (a query nobody could answer).
    """
    check_str("key", key)
    found = {i for i, p in enumerate(passages) if key in p.text}
    if not found:
        raise ValueError(f"no passage contains {key!r}: the query would have no relevant passage")
    return found
