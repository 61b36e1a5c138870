"""Fonts of the synthetic OCR data: discovery, glyph coverage and the train/test split by family.

The candidates are every TTF of matplotlib's ``mpl-data/fonts/ttf`` and of ``/usr/share/fonts/truetype``
(the first file of each name wins, so a system copy of a DejaVu file matplotlib ships is not counted twice).
A font is usable when, for every character of :data:`~.wordlist.TEXT_ALPHABET`, its best cmap maps the code
point to the glyph that the Adobe Glyph List names for it (fontTools ``getBestCmap()`` and ``agl``). The
glyph *names* matter, not only the cmap: matplotlib's Computer Modern fonts (BaKoMa) map every ASCII code
point, but in TeX's OT1 layout: ``<`` draws ``¡``, ``\\`` draws ``“``, ``{`` an en dash; their letters,
digits and the symbols of the alphabet are right, so they qualify, and the text generator never writes the
others. Symbol and math fonts (cmex10, cmsy10, cmmi10, STIXSize*, STIXNonUni*, DejaVu Math, the Display
cuts, LastResort) are skipped by name as well; cmti10 too: TeX's italic font draws a pound sign at ``$``.

:func:`split_fonts` splits by family so that no test font is seen in training: test = the STIXGeneral
family (a Times-like serif in four styles) and cmss10 (Computer Modern Sans); train = everything else
(DejaVu Sans, Serif and Sans Mono in all their styles, cmr10, cmb10, cmtt10): sans, serif and mono styles.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from .wordlist import TEXT_ALPHABET

__all__ = [
    "SKIPPED_FONT_PATTERNS",
    "TEST_FAMILIES",
    "candidate_font_paths",
    "font_family",
    "font_covers",
    "split_fonts",
    "usable_fonts",
]

TEST_FAMILIES = ("STIXGeneral", "cmss10")
SKIPPED_FONT_PATTERNS = (
    "cmex10",
    "cmsy10",
    "cmmi10",
    "cmti10",
    "STIXSiz",
    "STIXNonUni",
    "Display",
    "Math",
    "LastResort",
)
# the TeX fonts draw the ASCII apostrophe and grave as curly quotes, which read the same
_GLYPH_ALIASES = {"'": {"quoteright"}, "`": {"quoteleft"}}
_STYLE_WORDS = re.compile(r"\b(Condensed|Bold|Oblique|Italic|ExtraLight|Light|Book|Regular)\b")


def _font_dirs() -> list[Path]:
    import matplotlib

    return [Path(matplotlib.get_data_path()) / "fonts" / "ttf", Path("/usr/share/fonts/truetype")]


def candidate_font_paths(dirs: list[Path] | None = None) -> list[Path]:
    """Every ``*.ttf`` under ``dirs`` (recursively; default matplotlib's and the system's), one per file
    name, in directory order then sorted by name, minus the :data:`SKIPPED_FONT_PATTERNS`."""
    seen: dict[str, Path] = {}
    for directory in dirs if dirs is not None else _font_dirs():
        for path in sorted(Path(directory).rglob("*.ttf")) if Path(directory).is_dir() else []:
            if not any(pattern in path.name for pattern in SKIPPED_FONT_PATTERNS):
                seen.setdefault(path.name, path)
    return sorted(seen.values(), key=lambda path: path.name)


@functools.cache
def _font_info(path: str) -> tuple[str, dict[int, str]]:
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as font:
        names = font["name"]
        family = names.getDebugName(16) or names.getDebugName(1) or Path(path).stem
        return family, dict(font.getBestCmap() or {})


def font_family(path: str | Path) -> str:
    """The family of a font file without its style words: ``DejaVuSansCondensed-Bold.ttf`` -> ``DejaVu Sans``."""
    family = _font_info(str(path))[0]
    return " ".join(_STYLE_WORDS.sub(" ", family).split())


def font_covers(path: str | Path, chars: str = TEXT_ALPHABET) -> bool:
    """Whether the font draws every character of ``chars`` with the glyph the Adobe Glyph List names for it."""
    from fontTools import agl

    cmap = _font_info(str(path))[1]
    for char in chars:
        glyph = cmap.get(ord(char))
        expected = {agl.UV2AGL.get(ord(char), ""), f"uni{ord(char):04X}"} | _GLYPH_ALIASES.get(char, set())
        if glyph is None or glyph not in expected:
            return False
    return True


def usable_fonts(dirs: list[Path] | None = None) -> list[Path]:
    """The candidate fonts that cover :data:`~.wordlist.TEXT_ALPHABET`, sorted by file name."""
    return [path for path in candidate_font_paths(dirs) if font_covers(path)]


def split_fonts(
    paths: list[Path] | None = None, test_families: tuple[str, ...] = TEST_FAMILIES
) -> dict[str, list[Path]]:
    """Split fonts by family: ``{"train": [...], "test": [...]}`` (paths sorted by file name).

    A font goes to test when its family (:func:`font_family`) is one of ``test_families``, else to train, so
    the two splits never share a family. ``paths`` defaults to :func:`usable_fonts`. Raises ``RuntimeError``
    naming the families found when either split would be empty.
    """
    paths = usable_fonts() if paths is None else sorted(paths, key=lambda path: Path(path).name)
    split: dict[str, list[Path]] = {"train": [], "test": []}
    for path in paths:
        split["test" if font_family(path) in test_families else "train"].append(Path(path))
    if not split["train"] or not split["test"]:
        families = sorted({font_family(path) for path in paths})
        raise RuntimeError(
            f"cannot split fonts by family: test families {list(test_families)}, found families {families}"
        )
    return split
