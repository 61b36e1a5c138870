"""did_you_mean / close_matches: the one suggestion helper of every lookup error."""

from __future__ import annotations

from visionstack.utils.suggest import close_matches, did_you_mean


def test_quoted_and_bare_suggestions() -> None:
    choices = {"SGD": 1, "ASGD": 2, "Adam": 3}  # a mapping gives its keys
    assert did_you_mean("SDG", choices) == " Did you mean: 'SGD', 'ASGD'?"
    assert did_you_mean("train_cgf", ["train_cfg", "model"], quote=False) == " Did you mean: train_cfg?"
    assert did_you_mean("zzz", choices) == ""


def test_cutoff_and_count() -> None:
    assert close_matches("checkpont", ["checkpoint", "logger"], n=1, cutoff=0.6) == ["checkpoint"]
    assert close_matches("lr", ["lr_mult", "decay_mult"], cutoff=0.9) == []
    assert close_matches("a1", [7, "a2"]) == ["a2"]  # choices compare as strings
