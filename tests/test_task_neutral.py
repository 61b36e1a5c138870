"""The shared top layer names no task: what is special to a task lives in its folder's adapter.

``cli.py``, ``inference.py``, ``demo.py``, ``export/`` and ``deploy/`` must not mention a registered task's
name nor a ``pred_*`` field; they reach a task only through its adapter (``visionstack.tasks.adapter``).
"""

from __future__ import annotations

import re
from pathlib import Path

from visionstack.registry import TASKS

PACKAGE = Path(__file__).resolve().parents[1] / "visionstack"
SHARED = [PACKAGE / "cli.py", PACKAGE / "inference.py", PACKAGE / "demo.py"]
SHARED += sorted((PACKAGE / "export").glob("*.py")) + sorted((PACKAGE / "deploy").glob("*.py"))
PRED_FIELD = re.compile(r"\bpred_[a-z]\w*")


def task_neutral_violations(files, task_names):
    """``file:line: word`` for every task name or ``pred_*`` field in ``files`` (a name used as a keyword
    argument, such as argparse's ``action=``, is not a task)."""
    words = re.compile(r"\b(" + "|".join(map(re.escape, task_names)) + r")\w*(?!\w*\s*=)", re.IGNORECASE)
    found = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in [*words.finditer(line), *PRED_FIELD.finditer(line)]:
                found.append(f"{path.name}:{number}: {match.group(0)}")
    return found


def test_shared_top_layer_names_no_task_and_no_prediction_field():
    assert {"classification", "detection", "segmentation"} <= set(TASKS.keys())
    assert task_neutral_violations(SHARED, TASKS.keys()) == []


def test_the_check_finds_a_task_name_and_a_field(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        'if "pred_instances" in sample:\n    task = "Segmentation"\nparser.add_argument(action="x")\n'
    )
    found = task_neutral_violations([probe], ["segmentation", "action"])
    assert found == ["probe.py:1: pred_instances", "probe.py:2: Segmentation"]
