"""The one pseudonymisation of StepSync: `P-` + the first 12 hex digits of HMAC-SHA256(key,
patient code), the key being the repository's secret named `export-pseudonym` (32 random bytes,
made on first use: `site_secrets` in a rig's SQLite file, the same table on the clinic server).

Both paths use this definition: `export` (C3D subject, CSV/JSON sidecars; engine/records/export.py)
computes it here in Python, and the clinic server's research export computes it in SQL
(`pg_schema.CLINIC_FUNCTIONS`: `stepsync_hmac_sha256`, `stepsync_pseudonym`, built from the
constants below). So a researcher's rows and an export made from the same repository name a
patient with the same pseudonym; tests/records/test_pg_pseudonym.py checks the SQL against
Python's hmac module. Without the key a pseudonym cannot be turned back into a code (a code
list cannot be hashed and compared), and repositories with different keys give different
pseudonyms (a rig's own file and the clinic server do not link to each other).
"""

from __future__ import annotations

import hashlib
import hmac

SECRET_NAME = "export-pseudonym"
KEY_BYTES = 32
PREFIX = "P-"
HEX_DIGITS = 12  # 48 bits: collisions stay unlikely (birthday bound ~16 million patients)


def pseudonym_of(key: bytes, patient_code: str) -> str:
    """The pseudonym of a patient code under a key (HMAC-SHA256, RFC 2104)."""
    digest = hmac.new(key, patient_code.encode("utf-8"), hashlib.sha256)
    return PREFIX + digest.hexdigest()[:HEX_DIGITS]


def pseudonym(repository, patient_code: str) -> str:
    """The pseudonym of a patient code in a repository (a rig's Store or the clinic's PgStore)."""
    return pseudonym_of(repository.site_secret(SECRET_NAME, KEY_BYTES), patient_code)
