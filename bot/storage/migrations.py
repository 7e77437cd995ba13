"""Numbered schema migrations. `PRAGMA user_version` holds the number of the last one applied.

Append new migrations at the end; never edit one that has shipped (an operator's file was built with it).
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: access, audit, the send log and its tracking queue.
    """
    CREATE TABLE operators (
        user_id     INTEGER PRIMARY KEY,
        role        TEXT NOT NULL DEFAULT 'operator' CHECK (role IN ('admin', 'operator')),
        name        TEXT NOT NULL DEFAULT '',
        added_by    INTEGER,
        added_at    TEXT NOT NULL,
        active      INTEGER NOT NULL DEFAULT 1
    );
    -- Everyone who ever wrote to the bot: language choice and where to reach them.
    CREATE TABLE people (
        user_id       INTEGER PRIMARY KEY,
        name          TEXT NOT NULL DEFAULT '',
        username      TEXT,
        locale        TEXT CHECK (locale IN ('ru', 'en')),
        last_locale   TEXT CHECK (last_locale IN ('ru', 'en')),
        last_seen_at  TEXT
    );
    CREATE TABLE access_requests (
        id           INTEGER PRIMARY KEY,
        user_id      INTEGER NOT NULL,
        name         TEXT NOT NULL DEFAULT '',
        username     TEXT,
        locale       TEXT,
        status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
        created_at   TEXT NOT NULL,
        decided_by   INTEGER,
        decided_at   TEXT
    );
    CREATE UNIQUE INDEX access_requests_one_pending ON access_requests(user_id) WHERE status = 'pending';
    CREATE TABLE access_request_messages (
        request_id   INTEGER NOT NULL REFERENCES access_requests(id) ON DELETE CASCADE,
        chat_id      INTEGER NOT NULL,
        message_id   INTEGER NOT NULL,
        PRIMARY KEY (request_id, chat_id)
    );
    CREATE TABLE audit_log (
        id         INTEGER PRIMARY KEY,
        at         TEXT NOT NULL,
        actor_id   INTEGER,
        action     TEXT NOT NULL,
        target_id  INTEGER,
        details    TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE sends (
        id                 INTEGER PRIMARY KEY,
        user_id            INTEGER NOT NULL,
        chat_id            INTEGER NOT NULL,
        msisdn             TEXT NOT NULL,
        sender             TEXT NOT NULL,
        text               TEXT NOT NULL,
        encoding           TEXT NOT NULL,
        parts              INTEGER NOT NULL,
        state              TEXT NOT NULL DEFAULT 'draft'
                           CHECK (state IN ('draft', 'sending', 'accepted', 'failed', 'unknown', 'cancelled')),
        preview_message_id INTEGER,
        result_message_id  INTEGER,
        gateway_id         TEXT,
        balance_after      TEXT,
        error_code         INTEGER,
        error_text         TEXT,
        status_code        INTEGER,
        status_name        TEXT,
        final              INTEGER NOT NULL DEFAULT 0,
        locale             TEXT,
        created_at         TEXT NOT NULL,
        sent_at            TEXT,
        final_at           TEXT,
        updated_at         TEXT NOT NULL
    );
    CREATE INDEX sends_user_created ON sends(user_id, id DESC);
    CREATE INDEX sends_gateway_id ON sends(gateway_id);
    CREATE INDEX sends_state ON sends(state);
    -- One row per accepted SMS whose delivery is not final yet; deleted when it is.
    CREATE TABLE tracking (
        send_id        INTEGER PRIMARY KEY REFERENCES sends(id) ON DELETE CASCADE,
        next_check_at  REAL NOT NULL,
        interval       REAL NOT NULL,
        attempts       INTEGER NOT NULL DEFAULT 0,
        deadline_at    REAL NOT NULL
    );
    CREATE INDEX tracking_due ON tracking(next_check_at);
    CREATE TABLE kv (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    );
    """,
    # 2: the owed outcome and delivery notice of a send become its own columns (they were kv rows
    # 'outcome_owed:<id>' and 'notice_owed:<id>' whose value was the time the marker was set; NULL: not owed).
    """
    ALTER TABLE sends ADD COLUMN outcome_owed_at TEXT;
    ALTER TABLE sends ADD COLUMN notice_owed_at TEXT;
    UPDATE sends SET outcome_owed_at = (SELECT value FROM kv WHERE key = 'outcome_owed:' || sends.id)
     WHERE 'outcome_owed:' || id IN (SELECT key FROM kv);
    UPDATE sends SET notice_owed_at = (SELECT value FROM kv WHERE key = 'notice_owed:' || sends.id)
     WHERE 'notice_owed:' || id IN (SELECT key FROM kv);
    DELETE FROM kv WHERE key IN (SELECT 'outcome_owed:' || id FROM sends WHERE outcome_owed_at IS NOT NULL)
                      OR key IN (SELECT 'notice_owed:' || id FROM sends WHERE notice_owed_at IS NOT NULL);
    CREATE INDEX sends_outcome_owed ON sends(id) WHERE outcome_owed_at IS NOT NULL;
    CREATE INDEX sends_notice_owed ON sends(id) WHERE notice_owed_at IS NOT NULL;
    """,
    # 3 (issue 19, limits and privacy): when a send was claimed (its Send press), so the parts an operator spent
    # in the last hour and day can be counted; rows already past their press count from when they were sent.
    """
    ALTER TABLE sends ADD COLUMN claimed_at TEXT;
    UPDATE sends SET claimed_at = COALESCE(sent_at, updated_at) WHERE state IN ('sending', 'accepted', 'unknown');
    CREATE INDEX sends_user_claimed ON sends(user_id, claimed_at) WHERE claimed_at IS NOT NULL;
    -- RETENTION_DAYS: when a send's text and number were erased (who, when and the outcome stay).
    ALTER TABLE sends ADD COLUMN erased_at TEXT;
    -- Recent Telegram update_ids: a redelivered update (webhook retry, polling after a restart) is handled once.
    CREATE TABLE seen_updates (
        update_id  INTEGER PRIMARY KEY,
        seen_at    TEXT NOT NULL
    );
    """,
    # 4 (issue 14): the guided steps' state (aiogram FSM, bot/storage/fsm.py), so that a step survives a restart;
    # a draft older than DRAFT_TTL_HOURS is marked expired (it stays a draft that can no longer send).
    """
    ALTER TABLE sends ADD COLUMN expired_at TEXT;
    CREATE TABLE fsm_states (
        key         TEXT PRIMARY KEY,
        state       TEXT,
        data        TEXT NOT NULL DEFAULT '{}',
        updated_at  TEXT NOT NULL
    );
    """,
    # 5 (issue 17): one send to several recipients. A batch is one draft (one preview, one press); at the press
    # every recipient gets its own `sends` row (state `sending`, claimed), so the per-row exactly-once rules hold
    # for each. `attempted_at` is written before that row's gateway call: a row in `sending` without it was never
    # attempted (it goes out after a restart); with it and no `done_at`, the call was in flight (unknown).
    """
    CREATE TABLE batches (
        id                  INTEGER PRIMARY KEY,
        user_id             INTEGER NOT NULL,
        chat_id             INTEGER NOT NULL,
        sender              TEXT NOT NULL,
        text                TEXT NOT NULL,
        encoding            TEXT NOT NULL,
        parts               INTEGER NOT NULL,
        locale              TEXT,
        state               TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'pressed', 'cancelled')),
        cancel_reason       TEXT,
        preview_message_id  INTEGER,
        created_at          TEXT NOT NULL,
        pressed_at          TEXT,
        sent_all_at         TEXT,
        notice_at           TEXT,
        notice_kind         TEXT,
        notice_given_at     TEXT
    );
    CREATE INDEX batches_user ON batches(user_id, state);
    CREATE TABLE batch_members (
        batch_id      INTEGER NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
        position      INTEGER NOT NULL,
        msisdn        TEXT NOT NULL,
        name          TEXT,
        send_id       INTEGER UNIQUE REFERENCES sends(id),
        attempted_at  TEXT,
        done_at       TEXT,
        PRIMARY KEY (batch_id, position)
    );
    """,
]

LATEST = len(MIGRATIONS)
