"""The character dictionary of text recognizers (MMOCR's ``Dictionary``), NumPy- and torch-free.

A dictionary maps characters to class indexes. The characters come first, in the order given
(a file with one character per line, or a built-in set), then the special tokens, each only when
its flag is set, in this order (MMOCR's ``_update_dict``):

1. ``<BOS>`` and ``<EOS>``, or one shared ``<BOS/EOS>`` when ``same_start_end`` (and both flags);
2. ``<PAD>`` (``with_padding``): the padding of attention targets and the *blank* of CTC;
3. ``<UKN>`` (``with_unknown``).

Unknown characters (MMOCR's behaviour): with ``with_unknown`` they map to ``<UKN>``, or are dropped
when ``unknown_token=None``; without it, encoding them is a ``KeyError`` naming the character.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence

from ...registry import MODELS

__all__ = ["BUILTIN_CHARSETS", "Dictionary", "LETTER_CASES", "apply_letter_case"]

_DIGITS = "0123456789"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
# MMOCR's dicts/english_digits_symbols.txt: 28 symbols (no space, no ``^ { | }``), in its order
_MMOCR_SYMBOLS = "!\"#$%&'()*+,-./:;<=>?@[\\]_`~"

BUILTIN_CHARSETS: dict[str, str] = {
    "lower_english_digits": _DIGITS + _LOWER,  # 36, MMOCR's lower_english_digits.txt
    "english_digits_symbols": _DIGITS + _LOWER + _UPPER + _MMOCR_SYMBOLS,  # 90, MMOCR's order
    # all 94 printable ASCII characters but space: MMOCR's 90 then the 4 it leaves out
    "printable": _DIGITS + _LOWER + _UPPER + _MMOCR_SYMBOLS + "^{|}",
}

LETTER_CASES = ("unchanged", "upper", "lower")


def apply_letter_case(text: str, letter_case: str) -> str:
    """``text`` unchanged, upper- or lower-cased (the ``letter_case`` of MMOCR's module losses)."""
    if letter_case not in LETTER_CASES:
        raise ValueError(f"letter_case must be one of {LETTER_CASES}, got {letter_case!r}")
    return text if letter_case == "unchanged" else getattr(text, letter_case)()


def _read_dict_file(path: str | os.PathLike) -> list[str]:
    """One character per line; empty lines skipped; a line holding one space is the space."""
    chars = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip("\r\n")
            if len(line) > 1:
                raise ValueError(
                    f"{path}:{number}: a dictionary line holds 0 or 1 character, got {len(line)} ({line!r})"
                )
            if line:
                chars.append(line)
    return chars


@MODELS.register()
class Dictionary:
    """Characters and special tokens of a recognizer, with their indexes.

    Args:
        dict_file: a UTF-8 file with one character per line (a line with one space adds the space).
        chars: instead of a file: a built-in set name (``"lower_english_digits"`` (36),
            ``"english_digits_symbols"`` (90, MMOCR's order), ``"printable"`` (94)) or the
            characters themselves (a string or a sequence of 1-character strings).
        with_start, with_end, same_start_end, with_padding, with_unknown: which special tokens
            to append (see the module docstring for the order).
        with_space: append a space character if the set has none.
        start_token, end_token, start_end_token, padding_token, unknown_token: the tokens'
            strings; ``unknown_token=None`` with ``with_unknown`` drops unknown characters.

    Attributes:
        start_idx, end_idx, padding_idx, unknown_idx: the special tokens' indexes (None when absent).
    """

    def __init__(
        self,
        dict_file: str | os.PathLike | None = None,
        chars: str | Sequence[str] | None = None,
        with_start: bool = False,
        with_end: bool = False,
        same_start_end: bool = False,
        with_padding: bool = False,
        with_unknown: bool = False,
        with_space: bool = False,
        start_token: str = "<BOS>",
        end_token: str = "<EOS>",
        start_end_token: str = "<BOS/EOS>",
        padding_token: str = "<PAD>",
        unknown_token: str | None = "<UKN>",
    ) -> None:
        if (dict_file is None) == (chars is None):
            raise ValueError("Dictionary: give exactly one of dict_file and chars")
        if dict_file is not None:
            characters = _read_dict_file(dict_file)
        elif isinstance(chars, str) and chars in BUILTIN_CHARSETS:
            characters = list(BUILTIN_CHARSETS[chars])
        else:
            characters = list(chars)
            bad = [c for c in characters if not isinstance(c, str) or len(c) != 1]
            if bad:
                raise ValueError(
                    f"Dictionary: chars must be a built-in set name ({', '.join(BUILTIN_CHARSETS)}) or "
                    f"single characters; got {bad[:3]!r}"
                )
        if with_space and " " not in characters:
            characters.append(" ")
        self.with_start, self.with_end, self.same_start_end = with_start, with_end, same_start_end
        self.with_padding, self.with_unknown = with_padding, with_unknown
        self.start_token, self.end_token, self.start_end_token = start_token, end_token, start_end_token
        self.padding_token, self.unknown_token = padding_token, unknown_token
        self.num_chars = len(characters)
        self._dict = characters
        self._append_special_tokens()
        seen: set[str] = set()
        for entry in self._dict:
            if entry in seen:
                raise ValueError(f"Dictionary: {entry!r} appears twice")
            seen.add(entry)
        self._char2idx = {entry: index for index, entry in enumerate(self._dict)}

    def _append_special_tokens(self) -> None:
        self.start_idx = self.end_idx = None
        if self.with_start and self.with_end and self.same_start_end:
            self._dict.append(self.start_end_token)
            self.start_idx = self.end_idx = len(self._dict) - 1
        else:
            if self.with_start:
                self._dict.append(self.start_token)
                self.start_idx = len(self._dict) - 1
            if self.with_end:
                self._dict.append(self.end_token)
                self.end_idx = len(self._dict) - 1
        self.padding_idx = None
        if self.with_padding:
            self._dict.append(self.padding_token)
            self.padding_idx = len(self._dict) - 1
        self.unknown_idx = None
        if self.with_unknown and self.unknown_token is not None:
            self._dict.append(self.unknown_token)
            self.unknown_idx = len(self._dict) - 1

    @property
    def num_classes(self) -> int:
        """Number of output classes, special tokens included."""
        return len(self._dict)

    @property
    def dict(self) -> list[str]:
        """Every entry by index: the characters, then the special tokens."""
        return self._dict

    @property
    def chars(self) -> str:
        """The characters only (no special token), in index order."""
        return "".join(self._dict[: self.num_chars])

    def contains_uppercase(self) -> bool:
        """True when a character (special tokens aside) is an upper-case ASCII letter."""
        return re.search("[A-Z]", self.chars) is not None

    def char2idx(self, char: str, strict: bool = True) -> int | None:
        """The index of ``char``; an unknown one gives ``unknown_idx`` (when ``with_unknown``), None
        (``strict=False``, or ``with_unknown`` without an unknown token) or a ``KeyError``."""
        index = self._char2idx.get(char)
        if index is not None:
            return index
        if self.with_unknown or not strict:
            return self.unknown_idx
        raise KeyError(
            f"character {char!r} is not in the dictionary ({self.num_chars} characters); use a dictionary "
            f"that holds it, set with_unknown=True, or letter_case='lower' for a lower-case set"
        )

    def str2idx(self, string: str) -> list[int]:
        """The indexes of the characters of ``string`` (see :meth:`char2idx` for unknown ones)."""
        indexes = []
        for char in string:
            try:
                index = self.char2idx(char)
            except KeyError as error:
                raise KeyError(f"{error.args[0]} (in the text {string!r})") from None
            if index is not None:
                indexes.append(index)
        return indexes

    def idx2str(self, indexes: Iterable[int]) -> str:
        """Concatenate the entries of ``indexes`` (special tokens appear as their strings)."""
        entries = []
        for index in indexes:
            index = int(index)
            if not 0 <= index < len(self._dict):
                raise IndexError(f"index {index} is out of the dictionary's range [0, {len(self._dict)})")
            entries.append(self._dict[index])
        return "".join(entries)

    def __len__(self) -> int:
        return self.num_classes

    def __repr__(self) -> str:
        special = {
            name: getattr(self, f"{name}_idx")
            for name in ("start", "end", "padding", "unknown")
            if getattr(self, f"{name}_idx") is not None
        }
        return f"Dictionary({self.num_chars} characters, {self.num_classes} classes, special={special})"
