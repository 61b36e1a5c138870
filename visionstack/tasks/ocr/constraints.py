"""Constraints on decoded text: a lexicon (trie) or a regular expression, for constrained decoding.

A constraint is a small automaton over characters (the :class:`Constraint` protocol): ``start()``
gives the state of the empty prefix, ``advance(state, chars)`` the state after appending ``chars``
(None when no completion of the prefix can be accepted: a dead prefix), and ``is_final(state)`` whether
the prefix itself is accepted. The beam searches of :mod:`.decoding` keep live prefixes only and
return final ones. Standard library and ``regex`` only (no NumPy, no torch): the ONNX runtime uses them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

import regex

__all__ = ["Constraint", "LexiconConstraint", "RegexConstraint", "build_constraint"]


@runtime_checkable
class Constraint(Protocol):
    """An automaton over characters; states are opaque, hashable values."""

    def start(self) -> Any: ...

    def advance(self, state: Any, chars: str) -> Any | None: ...

    def is_final(self, state: Any) -> bool: ...


_END = ""  # the trie key marking the end of a word (no character is the empty string)


class LexiconConstraint:
    """Accept exactly the words of a lexicon (a trie; a state is a trie node).

    Args:
        words: the words, or a path to a UTF-8 file with one word per line (blank lines skipped;
            leading and trailing whitespace stripped).
        ignore_case: compare case-insensitively (``str.casefold``); the decoded characters keep
            the model's case.
    """

    def __init__(self, words: Iterable[str] | str | os.PathLike, ignore_case: bool = True) -> None:
        if isinstance(words, (str, os.PathLike)):
            with open(words, encoding="utf-8") as handle:
                words = [line.strip() for line in handle]
        self.ignore_case = ignore_case
        self.root: dict[str, Any] = {}
        self.words: list[str] = []  # the distinct words as given
        for word in words:
            if not word:
                continue
            node = self.root
            for char in self._norm(word):
                node = node.setdefault(char, {})
            if _END not in node:
                node[_END] = {}
                self.words.append(word)
        self.num_words = len(self.words)
        if not self.num_words:
            raise ValueError("LexiconConstraint: the lexicon holds no word")

    def _norm(self, text: str) -> str:
        return text.casefold() if self.ignore_case else text

    def start(self) -> dict[str, Any]:
        return self.root

    def advance(self, state: dict[str, Any], chars: str) -> dict[str, Any] | None:
        node = state
        for char in self._norm(chars):
            node = node.get(char)
            if node is None:
                return None
        return node

    def is_final(self, state: dict[str, Any]) -> bool:
        return _END in state

    def __repr__(self) -> str:
        return f"LexiconConstraint({self.num_words} words, ignore_case={self.ignore_case})"


class RegexConstraint:
    """Accept the strings that fully match ``pattern`` (a state is the prefix string).

    Liveness is ``regex.fullmatch(pattern, prefix, partial=True)`` (a prefix that some continuation
    could complete), finality a plain full match. Results are cached by prefix.

    Args:
        pattern: a ``regex`` pattern, e.g. ``r"\\d{2}/\\d{2}/\\d{4}"``.
        ignore_case: match case-insensitively.
    """

    def __init__(self, pattern: str, ignore_case: bool = False) -> None:
        flags = regex.IGNORECASE if ignore_case else 0
        try:
            self.regex = regex.compile(pattern, flags)
        except regex.error as error:
            raise ValueError(f"RegexConstraint: invalid pattern {pattern!r}: {error}") from None
        self.pattern, self.ignore_case = pattern, ignore_case
        self._live: dict[str, bool] = {}
        self._final: dict[str, bool] = {}

    def start(self) -> str:
        return ""

    def advance(self, state: str, chars: str) -> str | None:
        prefix = state + chars
        live = self._live.get(prefix)
        if live is None:
            live = self._live[prefix] = self.regex.fullmatch(prefix, partial=True) is not None
        return prefix if live else None

    def is_final(self, state: str) -> bool:
        final = self._final.get(state)
        if final is None:
            final = self._final[state] = self.regex.fullmatch(state) is not None
        return final

    def __repr__(self) -> str:
        return f"RegexConstraint({self.pattern!r}, ignore_case={self.ignore_case})"


def build_constraint(
    lexicon: Iterable[str] | str | os.PathLike | None = None,
    pattern: str | None = None,
    ignore_case: bool = True,
) -> Constraint | None:
    """A constraint from a lexicon (word list or file) or a regex pattern; None when neither is
    given. Giving both is an error. ``ignore_case`` applies to the lexicon only (patterns say their
    own case with ``(?i)``)."""
    if lexicon is not None and pattern is not None:
        raise ValueError("give a lexicon or a pattern, not both")
    if lexicon is not None:
        return LexiconConstraint(lexicon, ignore_case=ignore_case)
    if pattern is not None:
        return RegexConstraint(pattern)
    return None
