"""Dictionary: MMOCR's token order, built-in sets, files, unknown characters."""

from __future__ import annotations

import string

import pytest

from visionstack.tasks.ocr.dictionary import BUILTIN_CHARSETS, Dictionary, apply_letter_case


def test_builtin_sets_sizes_and_mmocr_order():
    assert len(BUILTIN_CHARSETS["lower_english_digits"]) == 36
    symbols = BUILTIN_CHARSETS["english_digits_symbols"]
    assert len(symbols) == 90 and len(set(symbols)) == 90
    assert symbols[:62] == string.digits + string.ascii_lowercase + string.ascii_uppercase
    assert set(string.printable.strip()) - set(symbols) == set("^{|}")  # MMOCR's file lacks these 4
    assert set(BUILTIN_CHARSETS["printable"]) == set(string.printable) - set(string.whitespace)


def test_special_tokens_follow_the_characters_in_mmocr_order():
    full = Dictionary(chars="abc", with_start=True, with_end=True, with_padding=True, with_unknown=True)
    assert full.dict == ["a", "b", "c", "<BOS>", "<EOS>", "<PAD>", "<UKN>"]
    assert (full.start_idx, full.end_idx, full.padding_idx, full.unknown_idx) == (3, 4, 5, 6)
    shared = Dictionary(chars="abc", with_start=True, with_end=True, same_start_end=True, with_padding=True)
    assert shared.dict == ["a", "b", "c", "<BOS/EOS>", "<PAD>"]
    assert shared.start_idx == shared.end_idx == 3 and shared.num_classes == 5
    ctc = Dictionary(chars="lower_english_digits", with_padding=True)
    assert ctc.num_classes == 37 and ctc.padding_idx == 36 and ctc.start_idx is None


def test_str2idx_idx2str_round_trip_and_unknowns():
    d = Dictionary(chars="english_digits_symbols")
    text = "Hello,World-42!"
    assert d.idx2str(d.str2idx(text)) == text
    assert d.str2idx("a0A") == [10, 0, 36]
    with pytest.raises(KeyError, match=r"'\^'.*in the text 'x\^2'"):
        d.str2idx("x^2")
    unk = Dictionary(chars="abc", with_unknown=True)
    assert unk.str2idx("axb") == [0, unk.unknown_idx, 1]
    dropping = Dictionary(chars="abc", with_unknown=True, unknown_token=None)
    assert dropping.str2idx("axb") == [0, 1] and dropping.num_classes == 3
    with pytest.raises(IndexError):
        d.idx2str([90])


def test_dict_file_with_space_line_and_errors(tmp_path):
    path = tmp_path / "chars.txt"
    path.write_text("a\r\nb\n\n \nc\n", encoding="utf-8")
    d = Dictionary(dict_file=path)
    assert d.chars == "ab c"
    assert d.str2idx("a c") == [0, 2, 3]
    bad = tmp_path / "bad.txt"
    bad.write_text("a\nbc\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.txt:2"):
        Dictionary(dict_file=bad)
    with pytest.raises(ValueError, match="twice"):
        Dictionary(chars="aba")
    with pytest.raises(ValueError, match="exactly one"):
        Dictionary()
    assert Dictionary(chars="ab", with_space=True).chars == "ab "


def test_contains_uppercase_ignores_special_tokens():
    assert not Dictionary(
        chars="lower_english_digits", with_padding=True, with_unknown=True
    ).contains_uppercase()
    assert Dictionary(chars="english_digits_symbols").contains_uppercase()
    assert apply_letter_case("AbC", "lower") == "abc" and apply_letter_case("AbC", "unchanged") == "AbC"
    with pytest.raises(ValueError):
        apply_letter_case("a", "title")
