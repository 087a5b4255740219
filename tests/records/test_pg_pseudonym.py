"""One pseudonym everywhere: the research export's SQL pseudonyms equal `export`'s Python ones
(engine/records/pseudonym.py), checked against Python's hmac module and RFC 4231's vectors."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys

import psycopg

from engine.records.export import pseudonym as export_pseudonym
from engine.records.pg_store import PgStore
from engine.records.pseudonym import SECRET_NAME, pseudonym_of
from tests.pg_server import ADMIN, ADMIN_PASSWORD, populate
from tests.pg_server import THERAPIST_PASSWORD as PW
from tests.records.conftest import ROOT


def test_sql_hmac_is_rfc_2104(clinic):
    # RFC 4231 test cases 1 and 6 (a key longer than the block is hashed first).
    cases = [(b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
             (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")]
    with psycopg.connect(clinic.owner_url) as conn:
        for key, msg, expected in cases:
            got = conn.execute("SELECT encode(stepsync_hmac_sha256(%s, %s), 'hex')", (key, msg)).fetchone()[0]
            assert got == expected == hmac.new(key, msg, hashlib.sha256).hexdigest()
        for code in ("demo-healthy", "p-0001", "ü-ß-7"):
            key = hashlib.sha256(code.encode()).digest()
            assert conn.execute("SELECT stepsync_pseudonym(%s, %s)", (key, code)).fetchone()[0] == pseudonym_of(key, code)


def test_research_pseudonyms_equal_export_pseudonyms(clinic, tmp_path):
    data = populate(clinic, tmp_path)
    with PgStore(data.desk_url(), "rex", PW) as repo:
        research = {r["pseudonym"] for r in repo.research_sessions()}
    key = bytes(data.query("SELECT value FROM site_secrets WHERE name = %s", (SECRET_NAME,))[0][0])
    assert research == {pseudonym_of(key, c) for c in ("demo-healthy", "demo-frail")}
    with PgStore(data.desk_url(), ADMIN, ADMIN_PASSWORD) as repo:
        sessions = repo.list_sessions()
        assert {export_pseudonym(repo, s["patient_code"]) for s in sessions} == research
    # The export command from the server writes the same pseudonym into its metadata.json.
    out = tmp_path / "export"
    session_id = next(s["id"] for s in sessions if s["patient_code"] == "demo-healthy")
    env = {**os.environ, "STEPSYNC_USER": ADMIN, "STEPSYNC_PASSWORD": ADMIN_PASSWORD}
    result = subprocess.run([sys.executable, "main.py", "export", "--db", data.desk_url(), "--session",
                             str(session_id), "--format", "csv", "--out", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["patient"]["pseudonym"] == pseudonym_of(key, "demo-healthy")
