"""The content fingerprint: the same record gives the same value in any process, from any
database and whatever the order of its keys; any change to any field changes it."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from consult.extensions import db
from consult.outcomes import service
from consult.outcomes.fingerprint import canonical_json, fingerprint, is_fingerprint
from consult.outcomes.models import Outcome, OutcomeVersion

from .test_outcomes_support import hold_votes, publish

ROOT = Path(__file__).resolve().parent.parent

RECORD = {
    "schema": "yiting.outcome/1",
    "outcome_id": 7,
    "version": 1,
    "reason": None,
    "title": "南门空地怎么用？",
    "summary": "建**车棚**。\nBuild a shed.",
    "published_at": "2025-03-01T08:00:00Z",
    "due": "2025-06-30",
    "notice_days": 7,
    "community": {"slug": "demo", "name": "示范社区"},
    "decisions": [
        {
            "vote_id": 3,
            "counts": {"yes": 3, "no": 1, "abstain": 1},
            "secret": True,
            "quorum_met": True,
            "result": "adopted",
            "receipts": [
                {"receipt": "AAAA-BBBB-CCCC", "choice": "yes"},
                {"receipt": "DDDD-EEEE-FFFF", "choice": "no"},
            ],
        }
    ],
    "minority_opinions": [{"text": "太吵", "source": "ballot", "author": None, "choice": "no"}],
    "receipts": [
        {"vote_id": 3, "receipt": "AAAA-BBBB-CCCC", "choice": "yes"},
        {"vote_id": 3, "receipt": "DDDD-EEEE-FFFF", "choice": "no"},
    ],
}


def shuffled(value, rng):
    """The same data with every dict's keys in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


def leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def changed(record, path):
    other = copy.deepcopy(record)
    target = other
    for step in path[:-1]:
        target = target[step]
    old = target[path[-1]]
    if isinstance(old, bool):
        new = not old
    elif isinstance(old, int):
        new = old + 1
    elif old is None:
        new = "x"
    else:
        new = old + " "
    target[path[-1]] = new
    return other


def test_format_and_canonical_text():
    value = fingerprint(RECORD)
    assert is_fingerprint(value)
    text = canonical_json(RECORD)
    assert value == "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert "南门空地" in text  # UTF-8, not \u escapes
    assert ", " not in text and ": " not in text.replace("南门空地怎么用？", "")
    assert list(json.loads(text)) == sorted(RECORD)


def test_independent_of_key_order():
    rng = random.Random(5)
    for _ in range(20):
        assert fingerprint(shuffled(RECORD, rng)) == fingerprint(RECORD)


def test_changes_with_any_field():
    base = fingerprint(RECORD)
    paths = list(leaves(RECORD))
    assert len(paths) > 30
    for path in paths:
        assert fingerprint(changed(RECORD, path)) != base, path
    more = copy.deepcopy(RECORD)
    more["receipts"].append({"vote_id": 3, "receipt": "GGGG-HHHH-JJJJ", "choice": "yes"})
    assert fingerprint(more) != base
    swapped = copy.deepcopy(RECORD)
    swapped["receipts"].reverse()
    assert fingerprint(swapped) != base  # list order is part of the record


def test_no_float_or_time_formatting_artefacts():
    assert fingerprint({"n": 3.0}) == fingerprint({"n": 3})
    assert canonical_json({"n": 0.1 + 0.2}) == '{"n":"0.30000000000000004"}'
    aware = datetime(2025, 3, 1, 16, 0, 0, 123456, tzinfo=UTC)
    naive = datetime(2025, 3, 1, 16, 0, 0)
    assert (
        canonical_json({"t": aware})
        == canonical_json({"t": naive})
        == '{"t":"2025-03-01T16:00:00Z"}'
    )
    assert canonical_json({"d": date(2025, 6, 30)}) == '{"d":"2025-06-30"}'
    # NFC: the same text typed with a combining accent is the same text.
    assert fingerprint({"s": "caf\u00e9"}) == fingerprint({"s": "cafe\u0301"})
    assert fingerprint({"s": "a\r\nb"}) == fingerprint({"s": "a\nb"})
    with pytest.raises(ValueError):
        canonical_json({"n": float("nan")})
    with pytest.raises(TypeError):
        canonical_json({"s": {1, 2}})


def test_same_value_in_another_process():
    """A fresh interpreter (another hash seed, so another dict and set order) computes the
    same fingerprint from the same record given with its keys in another order."""
    shuffled_json = json.dumps(shuffled(RECORD, random.Random(11)), ensure_ascii=True)
    script = (
        "import json, sys; from consult.outcomes.fingerprint import fingerprint; "
        "print(fingerprint(json.loads(sys.stdin.read())))"
    )
    values = set()
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", script],
            input=shuffled_json,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={
                "PYTHONHASHSEED": seed,
                "PATH": "/usr/bin:/bin",
                "YITING_DATA": str(ROOT / "data" / "test-default"),
            },
            check=True,
        )
        values.add(result.stdout.strip())
    assert values == {fingerprint(RECORD)}


# --- published versions ----------------------------------------------------------------------


REBUILD = """
import json, sys
from consult import create_app
from consult.extensions import db
from consult.outcomes import service
from consult.outcomes.fingerprint import fingerprint, fingerprint_of_text
from consult.outcomes.models import Outcome, OutcomeVersion

app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///" + sys.argv[1], "TESTING": True,
                  "SOCKETIO_ASYNC_MODE": "threading", "SECRET_KEY": "x"})
with app.app_context():
    outcome = db.session.get(Outcome, int(sys.argv[2]))
    version = service.get_version(outcome, 1)
    rebuilt = service.build_record(outcome, 1, version.published_at, version.published_by, None)
    print(json.dumps({"stored": fingerprint_of_text(version.record),
                      "rebuilt": fingerprint(rebuilt)}))
"""


def test_published_record_rehashes_and_rebuilds_the_same_in_another_process(
    demo, client, auth, app, tmp_path
):
    hold_votes(demo)
    outcome_id = publish(client, auth.headers("chair"), demo.id)
    version = db.session.query(OutcomeVersion).filter_by(outcome_id=outcome_id).one()
    # What is stored is exactly what was hashed.
    assert fingerprint(json.loads(version.record)) == version.fingerprint
    record = client.get(f"/notice/{outcome_id}/v/1/record.json")
    assert "sha256:" + hashlib.sha256(record.data).hexdigest() == version.fingerprint
    assert record.headers["X-Content-Fingerprint"] == version.fingerprint

    # Another process, reading a copy of the database, rebuilds the same record.
    db.session.commit()
    source = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
    copy_path = tmp_path / "copy.db"
    shutil.copy(source, copy_path)
    result = subprocess.run(
        [sys.executable, "-c", REBUILD, str(copy_path), str(outcome_id)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONHASHSEED": "3", "PATH": "/usr/bin:/bin", "YITING_DATA": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {"stored": version.fingerprint, "rebuilt": version.fingerprint}


def test_same_record_in_two_databases_gives_the_same_fingerprint(
    app, client, auth, tmp_path, schema_template, monkeypatch
):
    """Build the same consultation, outcome and publication in a second, separate database:
    the records are equal, and so are the fingerprints."""
    import consult.consultations.service as consultation_service
    import consult.outcomes.service as outcome_service
    from consult import create_app

    moment = datetime(2025, 3, 1, 8, 0, 0)
    for module in (outcome_service, consultation_service):
        monkeypatch.setattr(module, "utcnow", lambda: moment)

    def scenario(client_, auth_):
        from consult.cli.demo import load_demo

        consultation = load_demo()
        from .test_outcomes_support import close_room

        close_room(consultation)
        return publish(
            client_, auth_.headers("chair"), consultation.id, due="2025-06-30", category="环境"
        )

    from .conftest import Auth

    first_id = scenario(client, auth)
    first = db.session.query(OutcomeVersion).filter_by(outcome_id=first_id).one()
    first_values = (first.record, first.fingerprint)

    other_path = tmp_path / "second.db"
    shutil.copy(schema_template, other_path)
    other = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "another-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{other_path}",
            "SOCKETIO_ASYNC_MODE": "threading",
            "WTF_CSRF_ENABLED": False,
            "SERVER_NAME": "localhost",
        }
    )
    with other.app_context():
        other_client = other.test_client()
        second_id = scenario(other_client, Auth(other_client))
        second = db.session.query(OutcomeVersion).filter_by(outcome_id=second_id).one()
        second_values = (second.record, second.fingerprint)
        assert db.session.get(Outcome, second_id).published_at == moment
        db.session.remove()
        db.engine.dispose()
    assert second_values == first_values
    assert service.fingerprint_of_text(first_values[0]) == first_values[1]
