"""Environment settings: each value is read the one way a person writing it means, and a bad one is named."""

from __future__ import annotations

import pytest

from augviz import settings
from augviz.errors import SettingError


@pytest.mark.parametrize("value", ["1_0", "0x10", "1e1", "10.0", " 1 0", "+"])
def test_a_run_count_is_plain_digits_only(monkeypatch, value):
    monkeypatch.setenv("AUGVIZ_MAX_RUNS", value)
    with pytest.raises(SettingError, match=r"AUGVIZ_MAX_RUNS=.* is not a whole number"):
        settings.max_running(1)


@pytest.mark.parametrize(("value", "expected"), [("10", 10), (" 3 ", 3), ("+2", 2)])
def test_a_run_count_in_digits_is_taken(monkeypatch, value, expected):
    monkeypatch.setenv("AUGVIZ_MAX_RUNS", value)
    assert settings.max_running(1) == expected


@pytest.mark.parametrize("value", ["1e999", "inf", "nan", "1_0", "infinity", "0x1p3"])
def test_seconds_are_a_finite_decimal_number(monkeypatch, value):
    monkeypatch.setenv("AUGVIZ_STOP_GRACE_S", value)
    with pytest.raises(SettingError, match="AUGVIZ_STOP_GRACE_S"):
        settings.stop_grace_s()


@pytest.mark.parametrize(("value", "expected"), [("2.5", 2.5), ("1e1", 10.0), (".5", 0.5), ("3", 3.0)])
def test_seconds_in_decimal_are_taken(monkeypatch, value, expected):
    monkeypatch.setenv("AUGVIZ_STOP_GRACE_S", value)
    assert settings.stop_grace_s() == expected


@pytest.mark.parametrize(("name", "value"), [("AUGVIZ_STOP_GRACE_S", "1e999"), ("AUGVIZ_MAX_RUNS", "abc"),
                                             ("AUGVIZ_MAX_QUEUED", "-1"), ("AUGVIZ_DB_TIMEOUT", "1_0")])
def test_check_all_reads_every_setting_whether_or_not_a_command_uses_it(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=name):
        settings.check_all()


def test_check_all_passes_when_nothing_is_set(monkeypatch):
    for name in settings.NAMES:
        monkeypatch.delenv(name, raising=False)
    settings.check_all()
