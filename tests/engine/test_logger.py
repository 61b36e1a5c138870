"""setup_logger and ScalarWriter."""

from __future__ import annotations

import json
import logging

import pytest

from visionstack.engine import ScalarWriter, setup_logger
from visionstack.engine.logger import release_logger


def test_setup_logger_writes_the_file_and_replaces_previous_handlers(tmp_path):
    (tmp_path / "a").mkdir()
    first = setup_logger(tmp_path / "a")
    logging.getLogger("visionstack.engine.something").info("hello from a module")
    (tmp_path / "b").mkdir()
    second = setup_logger(tmp_path / "b", log_level="WARNING")
    second.info("not written")
    second.warning("written")
    release_logger()
    assert first is second
    assert "hello from a module" in (tmp_path / "a" / "log.txt").read_text()
    text = (tmp_path / "b" / "log.txt").read_text()
    assert "written" in text and "not written" not in text


def test_non_zero_ranks_write_no_file(tmp_path):
    setup_logger(tmp_path, rank=1).warning("rank one")
    release_logger()
    assert not (tmp_path / "log.txt").exists()


def test_unknown_level():
    with pytest.raises(ValueError, match="unknown level 'LOUD'"):
        setup_logger(None, log_level="LOUD")


def test_scalar_writer_json_lines(tmp_path):
    writer = ScalarWriter(tmp_path, tensorboard=False)
    writer.write({"mode": "train", "step": 1, "loss": float("nan"), "lr": 0.1}, step=1)
    writer.close()
    record = json.loads((tmp_path / "scalars.jsonl").read_text())
    assert record == {"mode": "train", "step": 1, "loss": "nan", "lr": 0.1}
