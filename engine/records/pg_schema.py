"""The clinic server's schema, database roles and row-level security (PostgreSQL).

Tables mirror the rig's SQLite tables column for column (same names, same text timestamps), so
the repository's read queries run unchanged on both engines; each synced row adds `rig_id` and
`local_id` (the rig's row id), the natural key that makes a replayed sync harmless
(`ON CONFLICT DO NOTHING`), and `received_at` (server time). Telemetry chunks are keyed by
(session, first cycle) because a rig compacts chunks and reuses their row ids.

Versions: the server's migrations are numbered like the rig's (`store.MIGRATIONS`):
`SERVER_MIGRATIONS[i]` brings the server to records schema i + 1 plus whatever the server alone
needs at that step (accounts, roles, audit). A rig whose SQLite schema differs from the
server's records schema is refused by `sync` with a clear message; nothing is half-written.

Roles (least privilege; no role but the owner may DELETE, TRUNCATE or UPDATE history):
- stepsync_owner (NOLOGIN): owns every table and the SECURITY DEFINER functions;
- stepsync_rig (group of the per-rig login roles): INSERT of its own rows only (row-level
  security checks `rig_id`), SELECT of its own rows (to resume), UPDATE only of an open
  session's closing columns; a trigger refuses any change to a closed session's outcome;
- stepsync_client (group of the staff computers' login roles): reads patient data only through
  row-level security tied to the StepSync account logged in on that connection (a random token
  from `stepsync_login`, hashed on the server): a therapist sees the patients of their care
  team, an admin everything, a researcher nothing but the pseudonymised research view.
Passwords of StepSync accounts are stored only as scrypt hashes (see accounts.py).
"""

from __future__ import annotations

from engine.records import pseudonym as pseudonym_def

# Group roles; login roles for rigs and staff computers are created by `clinic add-login`.
ROLE_OWNER = "stepsync_owner"
ROLE_RIG = "stepsync_rig"
ROLE_CLIENT = "stepsync_client"
GROUP_ROLES = (ROLE_OWNER, ROLE_RIG, ROLE_CLIENT)

# Tables a rig pushes, child tables keyed by (rig_id, local_id).
CHILD_TABLES = ("events", "steps", "strides", "audit_log", "frame_timing", "stances")

# Audit of writes (a trigger function for every synced table; session_plans from schema 6 on).
_AUDIT_ROWS_FUNCTION = r"""
CREATE OR REPLACE FUNCTION stepsync_audit_rows() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME IN ('patients') THEN
        INSERT INTO access_log (account, action, patient_code, detail)
        SELECT coalesce(stepsync_account(), session_user), lower(TG_OP) || ' ' || TG_TABLE_NAME,
               n.code, NULL FROM new_rows n;
    ELSIF TG_TABLE_NAME IN ('prescriptions', 'sessions', 'session_plans') THEN
        INSERT INTO access_log (account, action, patient_code, session_id, detail)
        SELECT coalesce(stepsync_account(), session_user), lower(TG_OP) || ' ' || TG_TABLE_NAME,
               n.patient_code, CASE WHEN TG_TABLE_NAME = 'sessions' THEN n.id END,
               'rig ' || n.rig_id || ' row ' || n.local_id FROM new_rows n;
    ELSE
        INSERT INTO access_log (account, action, session_id, detail)
        SELECT coalesce(stepsync_account(), session_user), lower(TG_OP) || ' ' || TG_TABLE_NAME,
               n.session_id, count(*) || ' rows' FROM new_rows n GROUP BY n.session_id;
    END IF;
    RETURN NULL;
END $$;
"""

_SERVER_V1 = r"""
CREATE TABLE rigs (
    rig_id          text PRIMARY KEY,
    db_role         text NOT NULL,
    name            text,
    registered_at   timestamptz NOT NULL DEFAULT now(),
    last_sync_at    timestamptz,
    records_schema  integer
);
CREATE TABLE accounts (
    username       text PRIMARY KEY CHECK (username ~ '^[a-z][a-z0-9_.-]{1,62}$'),
    role           text NOT NULL CHECK (role IN ('therapist', 'admin', 'researcher')),
    display_name   text,
    pw_hash        text NOT NULL,
    locked         boolean NOT NULL DEFAULT false,
    expires_at     timestamptz,
    failed_logins  integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE login_tokens (
    token_sha256  bytea PRIMARY KEY,
    username      text NOT NULL REFERENCES accounts(username),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE TABLE patients (
    code         text PRIMARY KEY,
    name         text,
    created_at   text NOT NULL,
    sim_profile  text,
    rig_id       text,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE care_team (
    patient_code  text NOT NULL REFERENCES patients(code),
    username      text NOT NULL REFERENCES accounts(username),
    PRIMARY KEY (patient_code, username)
);
CREATE TABLE prescriptions (
    id            bigserial PRIMARY KEY,
    rig_id        text NOT NULL,
    local_id      bigint NOT NULL,
    patient_code  text NOT NULL REFERENCES patients(code),
    version       integer NOT NULL,
    rig_version   integer NOT NULL,
    rx_json       text NOT NULL,
    who           text NOT NULL,
    created_at    text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (rig_id, local_id),
    UNIQUE (patient_code, version)
);
CREATE TABLE sessions (
    id                  bigserial PRIMARY KEY,
    rig_id              text NOT NULL,
    local_id            bigint NOT NULL,
    patient_code        text NOT NULL REFERENCES patients(code),
    scene_id            text NOT NULL,
    goals_json          text NOT NULL,
    settings_json       text NOT NULL,
    vr                  integer NOT NULL DEFAULT 0,
    started_at          text NOT NULL,
    ended_at            text,
    outcome             text,
    summary_json        text,
    simulated           integer NOT NULL DEFAULT 0,
    telemetry_overflow  integer NOT NULL DEFAULT 0,
    events_overflow     integer NOT NULL DEFAULT 0,
    recorder_json       text,
    received_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (rig_id, local_id)
);
CREATE INDEX sessions_patient ON sessions(patient_code, id);
CREATE TABLE telemetry_layouts (id serial PRIMARY KEY, descr_json text NOT NULL UNIQUE);
CREATE TABLE telemetry_chunks (
    id           bigserial PRIMARY KEY,
    session_id   bigint NOT NULL REFERENCES sessions(id),
    rig_id       text NOT NULL,
    first_cycle  bigint NOT NULL,
    last_cycle   bigint NOT NULL,
    n_records    integer NOT NULL,
    layout_id    integer NOT NULL REFERENCES telemetry_layouts(id),
    codec        text NOT NULL,
    data         bytea NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (session_id, first_cycle)
);
CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    session_id  bigint NOT NULL REFERENCES sessions(id),
    rig_id      text NOT NULL,
    local_id    bigint NOT NULL,
    cycle       bigint,
    t_s         double precision NOT NULL,
    kind        text NOT NULL,
    side        integer NOT NULL DEFAULT -1,
    code        integer,
    v1          double precision,
    v2          double precision,
    v3          double precision,
    data_json   text,
    UNIQUE (rig_id, local_id)
);
CREATE INDEX events_session ON events(session_id, t_s);
CREATE TABLE steps (
    id               bigserial PRIMARY KEY,
    session_id       bigint NOT NULL REFERENCES sessions(id),
    rig_id           text NOT NULL,
    local_id         bigint NOT NULL,
    cycle            bigint NOT NULL,
    t_s              double precision NOT NULL,
    side             integer NOT NULL,
    step_length_m    double precision,
    step_time_s      double precision,
    toe_clearance_m  double precision,
    UNIQUE (rig_id, local_id)
);
CREATE INDEX steps_session ON steps(session_id, cycle);
CREATE TABLE strides (
    id               bigserial PRIMARY KEY,
    session_id       bigint NOT NULL REFERENCES sessions(id),
    rig_id           text NOT NULL,
    local_id         bigint NOT NULL,
    cycle            bigint NOT NULL,
    t_s              double precision NOT NULL,
    side             integer NOT NULL,
    stride_time_s    double precision,
    stance_fraction  double precision,
    stride_length_m  double precision,
    UNIQUE (rig_id, local_id)
);
CREATE INDEX strides_session ON strides(session_id, cycle);
CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    session_id    bigint REFERENCES sessions(id),
    rig_id        text NOT NULL,
    local_id      bigint NOT NULL,
    at            text NOT NULL,
    who           text NOT NULL,
    setting       text NOT NULL,
    old_json      text,
    new_json      text,
    applied_json  text,
    UNIQUE (rig_id, local_id)
);
CREATE INDEX audit_log_session ON audit_log(session_id, id);
CREATE TABLE frame_timing (
    id          bigserial PRIMARY KEY,
    session_id  bigint NOT NULL REFERENCES sessions(id),
    rig_id      text NOT NULL,
    local_id    bigint NOT NULL,
    at          text NOT NULL,
    stats_json  text NOT NULL,
    UNIQUE (rig_id, local_id)
);
CREATE INDEX frame_timing_session ON frame_timing(session_id, id);
-- Who read or wrote what, when: written only by triggers and SECURITY DEFINER functions.
CREATE TABLE access_log (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    account       text,
    db_role       text NOT NULL DEFAULT session_user,
    action        text NOT NULL,
    patient_code  text,
    session_id    bigint,
    detail        text
);
CREATE INDEX access_log_patient ON access_log(patient_code, at);

-- The account logged in on this connection (NULL when none, or expired, locked, unknown token).
CREATE FUNCTION stepsync_account() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
    SELECT a.username FROM login_tokens t JOIN accounts a ON a.username = t.username
    WHERE t.token_sha256 = sha256(convert_to(coalesce(current_setting('stepsync.token', true), ''), 'UTF8'))
      AND t.expires_at > now() AND NOT a.locked AND (a.expires_at IS NULL OR a.expires_at > now())
$$;
CREATE FUNCTION stepsync_account_role() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
    SELECT role FROM accounts WHERE username = stepsync_account()
$$;
-- Whether a rig id belongs to the connected login role (a rig registers its id on first sync).
CREATE FUNCTION stepsync_is_my_rig(p_rig text) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM rigs WHERE rig_id = p_rig AND db_role = session_user)
$$;
CREATE FUNCTION stepsync_may_read_patient(p_code text) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
    SELECT CASE stepsync_account_role()
        WHEN 'admin' THEN true
        WHEN 'therapist' THEN EXISTS (SELECT 1 FROM care_team c WHERE c.patient_code = p_code
                                      AND c.username = stepsync_account())
        ELSE false END
$$;
-- Audit of a read, called by the repository for every read of patient data.
CREATE FUNCTION stepsync_audit_read(p_action text, p_patient text, p_session bigint, p_detail text)
RETURNS void LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO access_log (account, action, patient_code, session_id, detail)
    VALUES (coalesce(stepsync_account(), session_user), p_action, p_patient, p_session, p_detail)
$$;

-- Audit of writes: one row per statement and session for the bulk tables, one per row otherwise.
""" + _AUDIT_ROWS_FUNCTION + r"""

-- History is never rewritten: a closed session keeps its outcome, start and patient.
CREATE FUNCTION stepsync_session_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.patient_code <> OLD.patient_code OR NEW.started_at <> OLD.started_at
       OR NEW.rig_id <> OLD.rig_id OR NEW.local_id <> OLD.local_id THEN
        RAISE EXCEPTION 'session % history is read-only', OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.ended_at IS NOT NULL AND (NEW.ended_at IS DISTINCT FROM OLD.ended_at
       OR NEW.outcome IS DISTINCT FROM OLD.outcome OR NEW.summary_json IS DISTINCT FROM OLD.summary_json) THEN
        RAISE EXCEPTION 'session % is closed: its outcome cannot change', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER sessions_guard BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION stepsync_session_guard();

-- Clinic-wide prescription versions in the order the server receives them (the conflict rule).
CREATE FUNCTION stepsync_prescription_version() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('rx:' || NEW.patient_code));
    SELECT coalesce(max(version), 0) + 1 INTO NEW.version FROM prescriptions WHERE patient_code = NEW.patient_code;
    NEW.received_at := clock_timestamp();
    RETURN NEW;
END $$;
CREATE TRIGGER prescriptions_version BEFORE INSERT ON prescriptions
    FOR EACH ROW EXECUTE FUNCTION stepsync_prescription_version();

-- Research: stepsync_research_sessions() is defined in CLINIC_FUNCTIONS (replaced by every
-- `clinic init`), with the pseudonyms of engine/records/pseudonym.py.
"""

# Statement-level audit triggers (transition tables) for every synced table.
_AUDITED = ("patients", "prescriptions", "sessions", "telemetry_chunks",
            *(t for t in CHILD_TABLES if t != "stances"))  # stances: schema 5 makes its own trigger
_SERVER_V1 += "".join(
    f"CREATE TRIGGER {t}_audit_insert AFTER INSERT ON {t} REFERENCING NEW TABLE AS new_rows "
    f"FOR EACH STATEMENT EXECUTE FUNCTION stepsync_audit_rows();\n"
    for t in _AUDITED
)

# 3: the rig's per-database secrets have a server counterpart: the clinic's own secrets (the key
# of pseudonymised exports made from the server), created on first use by a definer function
# so that clients can use a secret without being able to write or list the table.
_SERVER_V3 = r"""
CREATE TABLE site_secrets (
    name        text PRIMARY KEY,
    value       bytea NOT NULL,
    created_at  text NOT NULL
);
CREATE FUNCTION stepsync_site_secret(p_name text, p_bytes integer) RETURNS bytea LANGUAGE plpgsql
VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v bytea := ''::bytea;
BEGIN
    IF stepsync_account() IS NULL AND NOT pg_has_role(session_user, 'stepsync_owner', 'MEMBER') THEN
        RAISE EXCEPTION 'a secret of the clinic needs a logged-in account' USING ERRCODE = 'insufficient_privilege';
    END IF;
    WHILE length(v) < p_bytes LOOP
        v := v || sha256(convert_to(gen_random_uuid()::text || clock_timestamp()::text, 'UTF8'));
    END LOOP;
    INSERT INTO site_secrets (name, value, created_at)
    VALUES (p_name, substr(v, 1, p_bytes), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"'))
    ON CONFLICT (name) DO NOTHING;
    RETURN (SELECT value FROM site_secrets WHERE name = p_name);
END $$;
"""

# 5: per-stance balance rows (records schema 5), a child table like steps; its audit trigger here
# (the schema-2 triggers were made before it existed). Rights and policies come with CHILD_TABLES.
_SERVER_V5 = r"""
CREATE TABLE IF NOT EXISTS stances (
    id                bigserial PRIMARY KEY,
    session_id        bigint NOT NULL REFERENCES sessions(id),
    rig_id            text NOT NULL,
    local_id          bigint NOT NULL,
    cycle             bigint NOT NULL,
    t_s               double precision NOT NULL,
    side              integer NOT NULL,
    flags             integer,
    duration_s        double precision,
    cop_path_m        double precision,
    cop_ap_m          double precision,
    cop_ml_sd_m       double precision,
    peak_load         double precision,
    load_impulse      double precision,
    double_support_s  double precision,
    UNIQUE (rig_id, local_id)
);
CREATE INDEX IF NOT EXISTS stances_session ON stances(session_id, cycle);
CREATE TRIGGER stances_audit_insert AFTER INSERT ON stances REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stepsync_audit_rows();
"""

# 6: session plans (records schema 6), synced like prescriptions: the rig's version is kept as
# rig_version, the server numbers a patient's plans in the order it receives them (`version`, so
# the repository's read query runs unchanged), based_on_session is the server's session id.
_SERVER_V6 = r"""
CREATE TABLE IF NOT EXISTS session_plans (
    id                bigserial PRIMARY KEY,
    rig_id            text NOT NULL,
    local_id          bigint NOT NULL,
    patient_code      text NOT NULL REFERENCES patients(code),
    version           integer NOT NULL,
    rig_version       integer NOT NULL,
    plan_json         text NOT NULL,
    based_on_session  bigint REFERENCES sessions(id),
    decision          text NOT NULL,
    who               text NOT NULL,
    created_at        text NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (rig_id, local_id)
);
CREATE INDEX IF NOT EXISTS session_plans_patient ON session_plans(patient_code, version);
""" + _AUDIT_ROWS_FUNCTION + r"""
CREATE FUNCTION stepsync_session_plan_version() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('plan:' || NEW.patient_code));
    SELECT coalesce(max(version), 0) + 1 INTO NEW.version FROM session_plans WHERE patient_code = NEW.patient_code;
    NEW.received_at := clock_timestamp();
    RETURN NEW;
END $$;
CREATE TRIGGER session_plans_version BEFORE INSERT ON session_plans
    FOR EACH ROW EXECUTE FUNCTION stepsync_session_plan_version();
CREATE TRIGGER session_plans_audit_insert AFTER INSERT ON session_plans REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stepsync_audit_rows();
"""

# Server migrations, numbered like the rig's records schema (see the module docstring).
SERVER_MIGRATIONS: list[str] = [
    # 1: records schema 1 has nothing the server needs on its own: it is created with 2.
    "CREATE TABLE IF NOT EXISTS schema_info (key text PRIMARY KEY, value text NOT NULL)",
    # 2: the records schema 2 mirror, accounts, audit, roles' functions.
    _SERVER_V1,
    # 3: per-database secrets (records schema 3).
    _SERVER_V3,
    # 4: records schema 4: the core's flags of each step and stride.
    "ALTER TABLE steps ADD COLUMN IF NOT EXISTS flags integer; "
    "ALTER TABLE strides ADD COLUMN IF NOT EXISTS flags integer",
    # 5: records schema 5: balance per stance from the insoles (issue 13).
    _SERVER_V5,
    # 6: records schema 6: session plans from progression proposals (issue 12), synced like
    # prescription versions.
    _SERVER_V6,
]
SERVER_SCHEMA_VERSION = len(SERVER_MIGRATIONS)

_SYNCED = ("patients", "prescriptions", "sessions", "telemetry_chunks", *CHILD_TABLES, "session_plans")


def grants_sql() -> str:
    """GRANTs and row-level security policies; idempotent (DROP POLICY IF EXISTS first)."""
    parts = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, {ROLE_RIG}, {ROLE_CLIENT}",
        "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {ROLE_RIG}, {ROLE_CLIENT}",
        f"GRANT EXECUTE ON FUNCTION stepsync_account(), stepsync_account_role(), stepsync_is_my_rig(text), "
        f"stepsync_may_read_patient(text), stepsync_audit_read(text, text, bigint, text), "
        f"stepsync_audit_rows(), stepsync_session_guard(), stepsync_prescription_version(), "
        f"stepsync_session_plan_version() "
        f"TO {ROLE_RIG}, {ROLE_CLIENT}",
        f"GRANT EXECUTE ON FUNCTION stepsync_login_params(text), stepsync_login(text, bytea), "
        f"stepsync_logout() TO {ROLE_RIG}, {ROLE_CLIENT}",
        f"GRANT EXECUTE ON FUNCTION stepsync_current_prescriptions(text[]) TO {ROLE_RIG}",
        f"GRANT EXECUTE ON FUNCTION stepsync_current_session_plans(text[]) TO {ROLE_RIG}",
        # CLINIC_FUNCTIONS: a rig copies the clinic's patients; both check a login's patient list.
        f"GRANT EXECUTE ON FUNCTION stepsync_clinic_patient_count(), stepsync_clinic_patients(), "
        f"stepsync_creator_care_team() TO {ROLE_RIG}",
        f"GRANT EXECUTE ON FUNCTION stepsync_my_patients() TO {ROLE_RIG}, {ROLE_CLIENT}",
        f"GRANT EXECUTE ON FUNCTION stepsync_research_sessions(), stepsync_site_secret(text, integer) "
        f"TO {ROLE_CLIENT}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {ROLE_RIG}",
        f"GRANT SELECT ON schema_info TO {ROLE_RIG}, {ROLE_CLIENT}",
        # A rig: add its rows, read its own rows back, close its open sessions. Nothing else.
        f"GRANT SELECT, INSERT ON {', '.join(_SYNCED)} TO {ROLE_RIG}",
        f"GRANT SELECT, INSERT ON telemetry_layouts TO {ROLE_RIG}",
        f"GRANT UPDATE (ended_at, outcome, summary_json, telemetry_overflow, events_overflow, recorder_json) "
        f"ON sessions TO {ROLE_RIG}",
        f"GRANT SELECT, INSERT (rig_id, db_role, name, records_schema, last_sync_at), "
        f"UPDATE (last_sync_at, records_schema) ON rigs TO {ROLE_RIG}",
        # Staff computers: read through row-level security only.
        f"GRANT SELECT ON {', '.join(_SYNCED)}, telemetry_layouts, care_team TO {ROLE_CLIENT}",
        f"GRANT SELECT (username, role, display_name, locked, expires_at) ON accounts TO {ROLE_CLIENT}",
    ]
    for table in (*_SYNCED, "rigs", "accounts", "care_team"):
        parts.append(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        for policy in ("rig_own", "rig_insert", "rig_close", "client_read"):
            parts.append(f"DROP POLICY IF EXISTS {policy} ON {table}")
    own = "stepsync_is_my_rig(rig_id)"
    for table in _SYNCED:
        # Patients are shared by every rig of the clinic, yet a rig sees only those it brought.
        parts.append(f"CREATE POLICY rig_own ON {table} FOR SELECT TO {ROLE_RIG} USING ({own})")
        check = own
        if table in ("telemetry_chunks", *CHILD_TABLES):
            # ...and only into its own sessions (the sessions policy hides the others).
            check += " AND (session_id IS NULL OR EXISTS (SELECT 1 FROM sessions s WHERE s.id = session_id))"
        parts.append(f"CREATE POLICY rig_insert ON {table} FOR INSERT TO {ROLE_RIG} WITH CHECK ({check})")
    parts.append(f"CREATE POLICY rig_close ON sessions FOR UPDATE TO {ROLE_RIG} USING ({own} AND "
                 f"(ended_at IS NULL OR recorder_json IS NULL)) WITH CHECK ({own})")
    parts.append(f"CREATE POLICY rig_own ON rigs FOR ALL TO {ROLE_RIG} USING (db_role = session_user) "
                 f"WITH CHECK (db_role = session_user)")
    # Clients: patient data through the logged-in account.
    parts.append(f"CREATE POLICY client_read ON patients FOR SELECT TO {ROLE_CLIENT} "
                 f"USING (stepsync_may_read_patient(code))")
    for table in ("prescriptions", "sessions", "care_team", "session_plans"):
        parts.append(f"CREATE POLICY client_read ON {table} FOR SELECT TO {ROLE_CLIENT} "
                     f"USING (stepsync_may_read_patient(patient_code))")
    for table in ("telemetry_chunks", *CHILD_TABLES):
        parts.append(f"CREATE POLICY client_read ON {table} FOR SELECT TO {ROLE_CLIENT} "
                     f"USING (EXISTS (SELECT 1 FROM sessions s WHERE s.id = session_id))")
    parts.append(f"CREATE POLICY client_read ON accounts FOR SELECT TO {ROLE_CLIENT} "
                 f"USING (username = stepsync_account() OR stepsync_account_role() = 'admin')")
    return ";\n".join(parts)


# Login: the client derives scrypt(password, salt) itself; the server keeps sha256 of that key,
# compares, counts failures (locked at MAX_FAILED_LOGINS) and hands out a random token. The
# stored hash is never readable by clients, so it cannot be attacked offline from a client.
MAX_FAILED_LOGINS = 5
LOGIN_FUNCTIONS = rf"""
-- A rig asks for the clinic's current prescription of its patients, to train a patient on the
-- version set at another rig (never on a stale one). Rigs only; nothing but the prescription.
CREATE OR REPLACE FUNCTION stepsync_current_prescriptions(p_codes text[])
RETURNS TABLE (patient_code text, version integer, rx_json text, who text, rig_id text, rig_name text,
               received_at text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT DISTINCT ON (p.patient_code) p.patient_code, p.version, p.rx_json, p.who, p.rig_id,
           coalesce(r.name, p.rig_id), p.received_at::text
    FROM prescriptions p LEFT JOIN rigs r ON r.rig_id = p.rig_id
    WHERE p.patient_code = ANY(p_codes) AND EXISTS (SELECT 1 FROM rigs m WHERE m.db_role = session_user)
    ORDER BY p.patient_code, p.version DESC
$$;
-- The same for session plans (issue 12): a rig copies down the plan another rig stored, so the
-- patient's next session starts from it wherever it is walked. Rigs only; nothing but the plan.
CREATE OR REPLACE FUNCTION stepsync_current_session_plans(p_codes text[])
RETURNS TABLE (patient_code text, version integer, plan_json text, decision text, who text, rig_id text,
               rig_name text, received_at text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT DISTINCT ON (p.patient_code) p.patient_code, p.version, p.plan_json, p.decision, p.who, p.rig_id,
           coalesce(r.name, p.rig_id), p.received_at::text
    FROM session_plans p LEFT JOIN rigs r ON r.rig_id = p.rig_id
    WHERE p.patient_code = ANY(p_codes) AND EXISTS (SELECT 1 FROM rigs m WHERE m.db_role = session_user)
    ORDER BY p.patient_code, p.version DESC
$$;
CREATE OR REPLACE FUNCTION stepsync_login_params(p_user text) RETURNS text LANGUAGE sql STABLE
SECURITY DEFINER SET search_path = public, pg_temp AS $$
    -- 'scrypt$n$r$p$salt_hex' of the account, or made-up parameters for an unknown name.
    SELECT coalesce(
        (SELECT split_part(pw_hash, '$', 1) || '$' || split_part(pw_hash, '$', 2) || '$' ||
                split_part(pw_hash, '$', 3) || '$' || split_part(pw_hash, '$', 4) || '$' ||
                split_part(pw_hash, '$', 5) FROM accounts WHERE username = p_user),
        'scrypt$16384$8$1$' || encode(substr(sha256(convert_to('stepsync:' || p_user, 'UTF8')), 1, 16), 'hex'))
$$;
CREATE OR REPLACE FUNCTION stepsync_login(p_user text, p_key bytea,
    OUT status text, OUT token text, OUT role text, OUT detail text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    a accounts%ROWTYPE;
BEGIN
    SELECT * INTO a FROM accounts WHERE username = p_user FOR UPDATE;
    IF NOT FOUND THEN
        status := 'bad'; detail := 'unknown user or wrong password';
        INSERT INTO access_log (account, action, detail) VALUES (p_user, 'login refused', detail);
        RETURN;
    END IF;
    IF a.locked THEN
        status := 'locked';
        detail := 'account ' || p_user || ' is locked after ' || a.failed_logins
                  || ' failed logins or by an admin: ask the clinic admin to unlock it';
    ELSIF a.expires_at IS NOT NULL AND a.expires_at <= now() THEN
        status := 'expired';
        detail := 'account ' || p_user || ' expired on ' || to_char(a.expires_at, 'YYYY-MM-DD')
                  || ': ask the clinic admin to renew it';
    ELSIF split_part(a.pw_hash, '$', 6) <> encode(sha256(p_key), 'hex') THEN
        UPDATE accounts SET failed_logins = failed_logins + 1,
               locked = (failed_logins + 1 >= {MAX_FAILED_LOGINS}) WHERE username = p_user;
        status := 'bad'; detail := 'unknown user or wrong password';
    ELSE
        UPDATE accounts SET failed_logins = 0 WHERE username = p_user;
        token := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
        INSERT INTO login_tokens (token_sha256, username, expires_at)
        VALUES (sha256(convert_to(token, 'UTF8')), p_user, now() + interval '12 hours');
        status := 'ok'; role := a.role; detail := 'logged in';
    END IF;
    INSERT INTO access_log (account, action, detail) VALUES (p_user, 'login ' || status, detail);
END $$;
CREATE OR REPLACE FUNCTION stepsync_logout() RETURNS void LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
    DELETE FROM login_tokens
    WHERE token_sha256 = sha256(convert_to(coalesce(current_setting('stepsync.token', true), ''), 'UTF8'))
$$;
"""

# Definitions replaced on every `clinic init` (CREATE OR REPLACE: running init again changes
# nothing; a newer StepSync's init brings them up to date). Tables stay in SERVER_MIGRATIONS.
_PSEUDONYM = pseudonym_def
CLINIC_FUNCTIONS = rf"""
-- HMAC-SHA256 (RFC 2104) in plain SQL, no extension needed: the research export's pseudonyms
-- are the ones `export` makes in Python (engine/records/pseudonym.py, one definition).
CREATE OR REPLACE FUNCTION stepsync_hmac_sha256(p_key bytea, p_msg bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = public, pg_temp AS $$
DECLARE
    k bytea := p_key;
    ipad bytea;
    opad bytea;
BEGIN
    IF length(k) > 64 THEN
        k := sha256(k);
    END IF;
    k := k || decode(repeat('00', 64 - length(k)), 'hex');
    ipad := k;
    opad := k;
    FOR i IN 0..63 LOOP
        ipad := set_byte(ipad, i, get_byte(k, i) # 54);  -- 0x36
        opad := set_byte(opad, i, get_byte(k, i) # 92);  -- 0x5c
    END LOOP;
    RETURN sha256(opad || sha256(ipad || p_msg));
END $$;
CREATE OR REPLACE FUNCTION stepsync_pseudonym(p_key bytea, p_code text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = public, pg_temp AS $$
    SELECT '{_PSEUDONYM.PREFIX}' || substr(encode(stepsync_hmac_sha256(p_key, convert_to(p_code, 'UTF8')), 'hex'),
                                          1, {_PSEUDONYM.HEX_DIGITS})
$$;
-- Research: pseudonymised sessions (the keyed pseudonym above with the clinic's export key,
-- dates to the month, no names, no free text), researcher and admin accounts only; audited.
CREATE OR REPLACE FUNCTION stepsync_research_sessions()
RETURNS TABLE (pseudonym text, session_month text, scene_id text, outcome text, simulated integer,
               duration_s double precision, steps bigint, mean_step_length_m double precision,
               mean_step_time_s double precision, mean_stride_time_s double precision)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    k bytea;
BEGIN
    IF coalesce(stepsync_account_role(), '') NOT IN ('researcher', 'admin') THEN
        RAISE EXCEPTION 'the research export needs a researcher or admin account'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO access_log (account, action, detail) VALUES (stepsync_account(), 'research export', NULL);
    k := stepsync_site_secret('{_PSEUDONYM.SECRET_NAME}', {_PSEUDONYM.KEY_BYTES});
    RETURN QUERY
    SELECT stepsync_pseudonym(k, s.patient_code),
           substr(s.started_at, 1, 7), s.scene_id, s.outcome, s.simulated,
           (SELECT max(t_s) FROM steps st WHERE st.session_id = s.id),
           (SELECT count(*) FROM steps st WHERE st.session_id = s.id),
           (SELECT avg(step_length_m) FROM steps st WHERE st.session_id = s.id),
           (SELECT avg(step_time_s) FROM steps st WHERE st.session_id = s.id),
           (SELECT avg(stride_time_s) FROM strides sr WHERE sr.session_id = s.id)
    FROM sessions s ORDER BY 1, s.started_at;
END $$;

-- The patients the account logged in on this connection may see (therapist: care team; admin:
-- all; researcher: none): the therapist menu's patient list at a rig. Audited.
CREATE OR REPLACE FUNCTION stepsync_my_patients() RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF stepsync_account() IS NULL THEN
        RAISE EXCEPTION 'log in first' USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO access_log (account, action, detail) VALUES (stepsync_account(), 'read patient list', NULL);
    RETURN QUERY SELECT p.code FROM patients p WHERE stepsync_may_read_patient(p.code) ORDER BY p.code;
END $$;

-- Rigs copy down the clinic's patients (a patient created at rig A can train at rig B): how
-- many there are (a pass pulls only when this changed; patients are never deleted) and the
-- rows. Registered rigs only; the copy is audited.
CREATE OR REPLACE FUNCTION stepsync_clinic_patient_count() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT count(*) FROM patients WHERE EXISTS (SELECT 1 FROM rigs m WHERE m.db_role = session_user)
$$;
CREATE OR REPLACE FUNCTION stepsync_clinic_patients()
RETURNS TABLE (patient_code text, patient_name text, patient_created_at text, patient_sim_profile text,
               from_rig text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM rigs m WHERE m.db_role = session_user) THEN
        RAISE EXCEPTION 'only a registered rig copies the clinic''s patients' USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO access_log (account, action, detail)
    VALUES (session_user, 'rig copied patients', (SELECT count(*) FROM patients) || ' patients');
    RETURN QUERY SELECT p.code, p.name, p.created_at, p.sim_profile, coalesce(r.name, p.rig_id)
                 FROM patients p LEFT JOIN rigs r ON r.rig_id = p.rig_id ORDER BY p.code;
END $$;

-- A patient created at a rig joins the care team of the therapist who created them: the first
-- prescription version the server receives for a patient brought by the same rig, written by a
-- therapist account (`who`), adds that therapist. A rig can thus only assign its own new patients.
CREATE OR REPLACE FUNCTION stepsync_creator_care_team() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.version = 1
       AND EXISTS (SELECT 1 FROM accounts a WHERE a.username = NEW.who AND a.role = 'therapist')
       AND EXISTS (SELECT 1 FROM patients p WHERE p.code = NEW.patient_code AND p.rig_id = NEW.rig_id) THEN
        INSERT INTO care_team (patient_code, username) VALUES (NEW.patient_code, NEW.who) ON CONFLICT DO NOTHING;
        INSERT INTO access_log (account, action, patient_code, detail)
        VALUES (NEW.who, 'care team: created the patient', NEW.patient_code, 'rig ' || NEW.rig_id);
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS prescriptions_creator ON prescriptions;
CREATE TRIGGER prescriptions_creator AFTER INSERT ON prescriptions
    FOR EACH ROW EXECUTE FUNCTION stepsync_creator_care_team();
"""
