"""The deliberate breakages of tests/mutations.py still fit the source: each one's text occurs exactly once in
its file, so that running them checks the tests, not a mutation that silently no longer applies (the code
moved: update the mutation with it)."""

from __future__ import annotations

import pytest

from tests.mutations import MUTATIONS, ROOT


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.key)
def test_each_mutation_replaces_one_piece_of_the_current_source(mutation):
    path = ROOT / mutation.path
    assert path.is_file(), f"{mutation.path} is gone"
    assert path.read_text().count(mutation.old) == 1
    assert mutation.new != mutation.old


def test_every_corner_of_the_issue_has_a_mutation():
    keys = {m.key for m in MUTATIONS}
    assert {"verdict-open-interval", "chance-line-height", "he-fan-out", "steps-csv-layers-shifted",
            "steps-limit-ignored", "exif-flip-axis", "exif-half-turn-as-flip", "exif-quarter-turns-swapped",
            "exif-transpose-transverse"} <= keys
