"""Finding a plan's stored runs by their fingerprint key (``Store.serving``, ``sweep.stored``): the runs of the
asked configurations, name, group and threads aside, whoever stored them and whenever, found without reading
every stored run. Every test runs on both engines (SQLite and a real PostgreSQL server, tests/postgres.py)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from augviz import serialize, sweep
from augviz.preview import SEED_PIPELINE
from augviz.runconfig import RunConfig
from augviz.store import Store, fingerprint, records

BASE = RunConfig(train_size=250, epochs=1, batch_size=64)
DEFAULTS = RunConfig().to_dict()


@pytest.fixture
def store(store_on_each_engine: Store) -> Store:
    return store_on_each_engine


def key(cfg: RunConfig) -> str:
    return fingerprint.key(cfg.to_dict())


def insert_raw(store: Store, config_text: str, status: str = "finished") -> int:
    """A run written without a fingerprint key: by an older version, or by other means (a script, a benchmark)."""
    with store.engine.connection() as db:
        return int(db.execute("INSERT INTO runs (config, label, grp, status, created) VALUES (?, 'raw', '', ?, 0) "
                              "RETURNING id", (config_text, status)).fetchone()["id"])


def stored_keys(store: Store) -> dict[int, str | None]:
    with store.engine.connection() as db:
        return {r["id"]: r["fingerprint"] for r in db.execute("SELECT id, fingerprint FROM runs")}


def test_the_runs_of_the_asked_configurations_come_back_in_id_order_name_group_and_threads_aside(store):
    wanted = replace(BASE, seed=1)
    a = store.create(replace(wanted, name="first", group="exp-1", threads=2))
    store.create(replace(BASE, seed=2))
    store.create(replace(wanted, lr=0.01))
    b = store.create(replace(wanted, group="sweep-2"))
    assert [r.id for r in store.serving([key(wanted)], DEFAULTS)] == [a, b]
    assert store.serving([], DEFAULTS) == []


def test_a_run_stored_without_a_key_is_found_and_keyed_once(store):
    old = insert_raw(store, BASE.to_json())
    assert stored_keys(store)[old] is None
    assert [r.id for r in store.serving([key(BASE)], DEFAULTS)] == [old]
    assert stored_keys(store)[old] == key(BASE)  # the next read finds it by the index
    assert [r.id for r in store.serving([key(BASE)], DEFAULTS)] == [old]


def test_a_run_stored_before_a_field_existed_serves_that_fields_default(store):
    doc = BASE.to_dict()
    del doc["precision"]  # written by a version without it, keyed by that version over its own fields
    old = insert_raw(store, json.dumps(doc))
    with store.engine.connection() as db:
        db.execute("UPDATE runs SET fingerprint = ? WHERE id = ?", (fingerprint.key(doc), old))
    assert [r.id for r in store.serving([key(BASE)], DEFAULTS)] == [old]
    assert store.serving([key(replace(BASE, precision="float32"))], DEFAULTS) == []


def test_a_newer_versions_run_and_a_text_that_is_no_configuration_serve_nothing_and_are_keyed_once(store):
    newer = insert_raw(store, json.dumps({**BASE.to_dict(), "scheduler": "cosine"}))
    broken = insert_raw(store, "[1, 2]")
    assert store.serving([key(BASE)], DEFAULTS) == []
    own = fingerprint.tag(DEFAULTS)
    assert all(stored_keys(store)[i].startswith(f"{own}:") for i in (newer, broken))


def test_a_plans_runs_read_by_key_are_those_reading_every_run_finds(store):
    s = sweep.Sweep(BASE, serialize.to_dict(SEED_PIPELINE), sweep.Axis(), (1.0, 2.0), (), 2)
    arms = sweep.plan(s)
    mine = [store.create(replace(arm.config, group="exp-x", name="mine")) for arm in arms[:3]]
    failed = store.create(arms[3].config)
    store.finish(failed, "failed", "boom")  # of the plan, but serves nothing: match leaves it out
    store.create(replace(arms[0].config, lr=0.5))  # another configuration
    raw = insert_raw(store, replace(arms[4].config, group="raw").to_json())
    by_key = sweep.stored(store, arms)
    assert [r.id for r in by_key] == [*mine, failed, raw]
    assert sweep.match(arms, by_key) == sweep.match(arms, store.runs())


def test_finding_a_plans_runs_builds_no_record_of_the_other_stored_runs(store, monkeypatch):
    store.create_many([replace(BASE, seed=s) for s in range(100, 150)])
    plan = sweep.plan(sweep.Sweep(BASE, serialize.to_dict(SEED_PIPELINE), sweep.Axis(), (1.0,), (), 1))
    ours = store.create_many([a.config for a in plan])
    built: list[int] = []

    def counting(row):
        built.append(row["id"])
        return records.run_from_row(row)

    monkeypatch.setattr("augviz.store.runs.run_from_row", counting)
    assert [r.id for r in sweep.stored(store, plan)] == ours
    assert built == ours
