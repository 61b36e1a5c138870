"""The one "did you mean" helper: close matches of a misspelt name, for error messages.

Every lookup error of the package (registry names, constructor arguments, config keys, dataloader and
optimizer options, scalar names of a log) suggests the nearest valid names through these two
functions, so the suggestions read alike everywhere (``... Did you mean: 'SGD', 'ASGD'?``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["close_matches", "did_you_mean"]


def close_matches(word: str, choices: Iterable[object], n: int = 3, cutoff: float = 0.5) -> list[str]:
    """Up to ``n`` of ``choices`` (as strings) similar to ``word``, best first.

    Args:
        word: the misspelt name.
        choices: the valid names (any iterable: a dict gives its keys); each is compared as ``str``.
        n: the most matches to return.
        cutoff: the lowest :class:`difflib.SequenceMatcher` ratio in [0, 1] that counts as close.
    """
    return difflib.get_close_matches(word, [str(choice) for choice in choices], n=n, cutoff=cutoff)


def did_you_mean(
    word: str, choices: Iterable[object], n: int = 3, cutoff: float = 0.5, quote: bool = True
) -> str:
    """``" Did you mean: 'a', 'b'?"`` (with a leading space) for the close matches, or ``""`` without any.

    Args:
        word, choices, n, cutoff: as :func:`close_matches`.
        quote: write the matches as ``repr`` (``'a'``); False writes them bare (``a``), as config
            keys in attribute and override messages are.
    """
    matches = close_matches(word, choices, n=n, cutoff=cutoff)
    if not matches:
        return ""
    return f" Did you mean: {', '.join(repr(m) if quote else m for m in matches)}?"
