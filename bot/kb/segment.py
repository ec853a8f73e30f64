"""Word segmentation shared by the index and the queries.

A private jieba tokenizer (not jieba's process-wide one) with every scheme name and
alias added, so 「30人以下優惠貸款」 is one word in the index and in a question alike.
The words come from the knowledge database itself, so a query process needs nothing
but kb.db.

jieba's bundled dictionary is mostly simplified Chinese and splits Taiwanese text
badly (「美國關稅害」 → 美國關 / 稅害), so index and queries also carry the
character bigrams of every run of CJK characters, the usual remedy for Chinese full-
text search: 「關稅」 then matches whatever jieba did with the sentence around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.nlu.normaliser import normalise

_WORDLIKE = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,}")
# Function words that would make an OR query match everything.
STOPWORDS = frozenset(
    "的 了 嗎 呢 吧 啊 喔 哦 呀 啦 欸 我 我們 你 您 你們 他 是 有 要 想 可以 能 會 請問 請 問 一下 這個 那個 什麼 怎麼 如何 多少 哪裡 哪個 還 也 就 都 和 跟 與 及 或 在 到 給 嗎 這樣 那 這 一個"
    " 們的 的話 想問 問一 一下 有沒 沒有 是不 不是 可不 不可 以申 申請 請問".split()
)


class Segmenter:
    """Segments text for FTS: normalised, jieba search mode, known words kept whole."""

    def __init__(self, words: Iterable[str]) -> None:
        import jieba

        self._tokenizer = jieba.Tokenizer()
        for word in words:
            self._tokenizer.add_word(normalise(word), freq=20000)

    def words(self, text: str, normalised: bool = False) -> list[str]:
        tokens = self._tokenizer.cut_for_search(text if normalised else normalise(text))
        return [t.strip().lower() for t in tokens if t.strip() and _WORDLIKE.search(t)]

    def index_text(self, text: str) -> str:
        """Space-separated words and bigrams, the form the FTS5 index stores."""
        return " ".join(self.words(text) + bigrams(normalise(text)))

    def query_words(self, text: str, normalised: bool = False) -> list[str]:
        """Content words and bigrams of a question, de-duplicated, in order (``normalised``: already done)."""
        plain = text if normalised else normalise(text)
        terms = self.words(plain, normalised=True) + bigrams(plain)
        return list(dict.fromkeys(t for t in terms if t not in STOPWORDS))


def bigrams(text: str) -> list[str]:
    """Character bigrams of each run of CJK characters: 「美國關稅」 → 美國 國關 關稅."""
    return [run[i : i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)]


def fts_query(words: Iterable[str]) -> str:
    """An FTS5 query matching any of ``words``, each quoted as a literal phrase.

    User text never reaches FTS syntax: 「NEAR」, 「*」, 「OR」 and quotes inside a word
    are data, because every word is wrapped in double quotes with quotes doubled.
    """
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
