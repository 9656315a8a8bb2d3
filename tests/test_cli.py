"""The command line as its user meets it: every error is one line on stderr naming the field or file, and each
kind of error has its own exit status (EXIT_CODES, listed in docs/cli.md)."""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from augviz.__main__ import EXIT_CODES
from augviz.runconfig import RunConfig
from augviz.store import Store

CLI_DOC = Path(__file__).parents[1] / "docs" / "cli.md"


def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "augviz", *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "AUGVIZ_HOME": str(tmp_path), "AUGVIZ_MAX_RUNS": "1", **(env or {})})


def train(tmp_path: Path, content: bytes, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    config = tmp_path / "run.json"
    config.write_bytes(content)
    return cli(tmp_path, "train", "--config", str(config), env=env)


def one_line(out: subprocess.CompletedProcess) -> str:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert lines[0].startswith("error: ")
    return lines[0]


def test_an_integer_too_large_for_a_float_names_its_field(tmp_path):
    out = train(tmp_path, b'{"lr": 1' + b"0" * 400 + b"}")
    assert out.returncode == EXIT_CODES["config"] and "lr" in one_line(out)


def test_an_integer_over_pythons_digit_limit_is_a_configuration_error(tmp_path):
    out = train(tmp_path, b'{"seed": 1' + b"0" * 5000 + b"}")
    assert out.returncode == EXIT_CODES["config"] and "run.json" in one_line(out)


def test_deep_nesting_is_a_configuration_error(tmp_path):
    out = train(tmp_path, b'{"pipeline": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert out.returncode == EXIT_CODES["config"] and "nested too deeply" in one_line(out)


def test_a_file_that_is_not_utf8_names_the_file_and_the_byte(tmp_path):
    out = train(tmp_path, '{"name": "café"}'.encode("latin-1"))
    line = one_line(out)
    assert out.returncode == EXIT_CODES["file"] and "run.json" in line and "0xe9" in line


def test_a_missing_file_is_a_file_error(tmp_path):
    out = cli(tmp_path, "train", "--config", str(tmp_path / "nowhere.json"))
    assert out.returncode == EXIT_CODES["file"] and "nowhere.json" in one_line(out)


def test_a_lone_surrogate_in_the_name_names_the_field(tmp_path):
    out = train(tmp_path, b'{"name": "bad \\ud800 name", "train_size": 250, "epochs": 1}')
    line = one_line(out)
    assert out.returncode == EXIT_CODES["config"] and "name" in line and "U+D800" in line
    assert Store(tmp_path / "runs.sqlite").runs() == []


def test_a_run_that_fails_on_its_data_is_one_line_with_the_data_code(tmp_path):
    out = train(tmp_path, json.dumps({"dataset": "cifar10", "train_size": 250, "epochs": 1}).encode())
    line = one_line(out)
    assert out.returncode == EXIT_CODES["data"] and "CIFAR-10" in line and "failed" in line
    (log,) = (tmp_path / "logs").glob("run-*.log")
    assert "Traceback" in log.read_text()  # the details are kept where the line says
    (run,) = Store(tmp_path / "runs.sqlite").runs()
    assert run.status == "failed" and run.error_kind == "data"


@pytest.mark.parametrize(("name", "value"), [("AUGVIZ_MAX_RUNS", "²"), ("AUGVIZ_DB_TIMEOUT", "nan"),
                                             ("AUGVIZ_DB_TIMEOUT", "abc"), ("AUGVIZ_DB_TIMEOUT", "inf")])
def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path, name, value):
    out = train(tmp_path, b'{"train_size": 250, "epochs": 1}', env={name: value})
    assert out.returncode == EXIT_CODES["setting"] and name in one_line(out)
    db = tmp_path / "runs.sqlite"
    assert not db.exists() or Store(db).runs() == []  # refused before anything was queued
    assert not Path(f"{db}.launcher").exists()  # and no launcher started for it


def test_a_full_queue_refuses_the_run(tmp_path):
    out = train(tmp_path, b'{"train_size": 250, "epochs": 1}', env={"AUGVIZ_MAX_QUEUED": "0"})
    assert out.returncode == EXIT_CODES["queue full"] and "AUGVIZ_MAX_QUEUED" in one_line(out)


def test_runs_lists_a_run_this_version_cannot_read(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    store.create(RunConfig(name="readable"), status="finished")  # nothing queued: `runs` starts no launcher
    with sqlite3.connect(store.path) as db:
        db.execute("INSERT INTO runs (config, label, grp, status, created) VALUES (?, 'from a newer version', '', "
                   "'finished', 0)", (json.dumps({**RunConfig().to_dict(), "scheduler": "cosine"}),))
    out = cli(tmp_path, "runs")
    assert out.returncode == 0 and out.stderr == ""
    assert "readable" in out.stdout
    assert re.search(r"from a newer version .*unreadable.*scheduler", out.stdout)


def test_every_exit_code_is_documented():
    text = CLI_DOC.read_text()
    for kind, code in EXIT_CODES.items():
        assert re.search(rf"^\| *{code} *\| *{re.escape(kind)} *\|", text, re.M), f"{code} ({kind}) in docs/cli.md"


@pytest.mark.parametrize(("command", "name", "value"), [("runs", "AUGVIZ_MAX_RUNS", "abc"),
                                                        ("runs", "AUGVIZ_STOP_GRACE_S", "1e999"),
                                                        ("train", "AUGVIZ_STOP_GRACE_S", "1e999"),
                                                        ("train", "AUGVIZ_MAX_RUNS", "1_0")])
def test_every_command_names_a_bad_setting_even_one_it_would_read_later(tmp_path, command, name, value):
    if command == "train":
        out = train(tmp_path, b'{"train_size": 250, "epochs": 1}', env={name: value})
    else:
        out = cli(tmp_path, command, env={name: value})
    assert out.returncode == EXIT_CODES["setting"] and name in one_line(out)


def test_runs_escapes_control_characters_in_names_so_no_row_can_be_forged(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    store.create(RunConfig(name="evil\r   7  finished      0.9999    1.0s  forged\n\x1b[2Jx\x9b1m"), status="finished")
    out = cli(tmp_path, "runs")
    assert out.returncode == 0
    rows = out.stdout.splitlines()
    assert len(rows) == 2  # the header and the one run
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", out.stdout.replace("\n", ""))
    assert r"evil\r   7  finished" in rows[1] and r"forged\n\x1b[2Jx\x9b1m" in rows[1]


def test_a_configuration_too_small_for_the_seed_cnn_is_a_configuration_error(tmp_path):
    folder = tmp_path / "data" / "tiny"
    for cls in ("a", "b"):
        for i in range(5):
            (folder / cls).mkdir(parents=True, exist_ok=True)
            (folder / cls / f"{i}.png").write_bytes(png_16())
    out = train(tmp_path, json.dumps({"dataset": "folder", "folder": "tiny", "image_size": 16, "epochs": 1}).encode())
    line = one_line(out)
    assert out.returncode == EXIT_CODES["config"] and "22×22" in line and "image_size" in line
    assert Store(tmp_path / "runs.sqlite").runs() == []  # refused before it was queued


def test_a_folder_whose_own_size_is_too_small_for_the_seed_cnn_fails_as_a_configuration_error(tmp_path):
    folder = tmp_path / "data" / "tiny"
    for cls in ("a", "b"):
        for i in range(5):
            (folder / cls).mkdir(parents=True, exist_ok=True)
            (folder / cls / f"{i}.png").write_bytes(png_16())
    out = train(tmp_path, json.dumps({"dataset": "folder", "folder": "tiny", "epochs": 1}).encode())
    line = one_line(out)
    assert out.returncode == EXIT_CODES["config"] and "22×22" in line and "16×16" in line


def test_a_configuration_with_a_key_given_twice_is_refused_naming_the_key(tmp_path):
    out = train(tmp_path, b'{"train_size": 250, "epochs": 1, "seed": 1, "seed": 2}')
    line = one_line(out)
    assert out.returncode == EXIT_CODES["config"] and "'seed'" in line and "twice" in line


def png_16() -> bytes:
    """A 16×16 grey picture."""
    buf = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buf, format="PNG")
    return buf.getvalue()


def test_a_deep_configuration_path_keeps_the_field_it_names(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    out = train(deep, b'{"lr": 1' + b"0" * 400 + b"}")
    assert out.returncode == EXIT_CODES["config"] and "run.json: lr: " in one_line(out)
