"""Word segmentation shared by the index and the queries.

A private jieba tokenizer (not jieba's process-wide one) with every scheme name and
alias added, so 「30人以下優惠貸款」 is one word in the index and in a question alike.
The words come from the knowledge database itself, so a query process needs nothing
but kb.db.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.nlu.normaliser import normalise

_WORDLIKE = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
# Function words that would make an OR query match everything.
STOPWORDS = frozenset(
    "的 了 嗎 呢 吧 啊 喔 哦 呀 啦 欸 我 我們 你 您 你們 他 是 有 要 想 可以 能 會 請問 請 問 一下 這個 那個 什麼 怎麼 如何 多少 哪裡 哪個 還 也 就 都 和 跟 與 及 或 在 到 給 嗎 這樣 那 這 一個".split()
)


class Segmenter:
    """Segments text for FTS: normalised, jieba search mode, known words kept whole."""

    def __init__(self, words: Iterable[str]) -> None:
        import jieba

        self._tokenizer = jieba.Tokenizer()
        for word in words:
            self._tokenizer.add_word(normalise(word), freq=20000)

    def words(self, text: str) -> list[str]:
        tokens = self._tokenizer.cut_for_search(normalise(text))
        return [t.strip().lower() for t in tokens if t.strip() and _WORDLIKE.search(t)]

    def index_text(self, text: str) -> str:
        """Space-separated words, the form the FTS5 index stores."""
        return " ".join(self.words(text))

    def query_words(self, text: str) -> list[str]:
        """Content words of a question, de-duplicated, in order."""
        return list(dict.fromkeys(w for w in self.words(text) if w not in STOPWORDS))


def fts_query(words: Iterable[str]) -> str:
    """An FTS5 query matching any of ``words``, each quoted as a literal phrase.

    User text never reaches FTS syntax: 「NEAR」, 「*」, 「OR」 and quotes inside a word
    are data, because every word is wrapped in double quotes with quotes doubled.
    """
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
