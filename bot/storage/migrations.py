"""Numbered schema migrations. `PRAGMA user_version` holds the number of the last one applied.

Append new migrations at the end; never edit one that has shipped (an operator's file was built with it).
"""

from __future__ import annotations

from bot.storage import epoch_times, freshness
from bot.storage.migrations_later import LATER

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
    # 5 (issue 16, templates): the team's saved SMS texts (`#name` in /send). `key` is the name casefolded in
    # Python: SQLite's NOCASE folds ASCII only, so «БД» and «бд» would be two templates. `saved_by`, `saved_at`:
    # the latest save; `uses`: how often it was picked (the guided text step offers the most used first).
    """
    CREATE TABLE templates (
        id        INTEGER PRIMARY KEY,
        key       TEXT NOT NULL UNIQUE,
        name      TEXT NOT NULL,
        text      TEXT NOT NULL,
        saved_by  INTEGER NOT NULL,
        saved_at  TEXT NOT NULL,
        uses      INTEGER NOT NULL DEFAULT 0,
        used_at   TEXT
    );
    CREATE INDEX templates_popular ON templates(uses DESC, saved_at DESC);
    """,
    # 6 (issue 18): the team feed's lines (one per send or batch, with the message that shows it),
    # and alert groups from Alertmanager/Grafana with the messages they were posted in. `wanted_at`: the line or
    # message must be (re)drawn from the current state; NULL once it shows it. Survives a restart.
    """
    CREATE TABLE feed_lines (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL CHECK (kind IN ('send', 'batch')),
        ref         TEXT NOT NULL,
        chat_id     INTEGER NOT NULL,
        message_id  INTEGER,
        shown       TEXT,
        wanted_at   TEXT,
        created_at  TEXT NOT NULL,
        UNIQUE (kind, ref, chat_id)
    );
    CREATE INDEX feed_lines_wanted ON feed_lines(id) WHERE wanted_at IS NOT NULL;
    CREATE TABLE alert_groups (
        id            INTEGER PRIMARY KEY,
        group_key     TEXT NOT NULL UNIQUE,
        status        TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
        alertname     TEXT NOT NULL DEFAULT '',
        severity      TEXT NOT NULL DEFAULT '',
        summary       TEXT NOT NULL DEFAULT '',
        firing        INTEGER NOT NULL DEFAULT 0,
        total         INTEGER NOT NULL DEFAULT 0,
        external_url  TEXT NOT NULL DEFAULT '',
        received_at   TEXT NOT NULL,
        posted_at     TEXT,
        resolved_at   TEXT,
        wanted_at     TEXT
    );
    CREATE INDEX alert_groups_wanted ON alert_groups(id) WHERE wanted_at IS NOT NULL;
    CREATE TABLE alert_messages (
        group_id    INTEGER NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
        chat_id     INTEGER NOT NULL,
        message_id  INTEGER,
        shown       TEXT,
        posted_at   TEXT NOT NULL,
        PRIMARY KEY (group_id, chat_id)
    );
    """,
    # 7 (issue 17, results): the watchdog's one notice per SMS still not final DELIVERY_ALERT_MINUTES after it was
    # accepted (decided, then given: a notice decided before a crash goes out at the next start, never twice);
    # the duplicate guard's look-up of recent SMS to a number; and which send a new draft repeats.
    """
    CREATE TABLE delivery_alerts (
        send_id     INTEGER PRIMARY KEY REFERENCES sends(id) ON DELETE CASCADE,
        decided_at  TEXT NOT NULL,
        given_at    TEXT,
        message_id  INTEGER
    );
    CREATE INDEX delivery_alerts_owed ON delivery_alerts(send_id) WHERE given_at IS NULL;
    CREATE INDEX sends_msisdn_claimed ON sends(msisdn, claimed_at) WHERE claimed_at IS NOT NULL;
    -- A draft opened by 📨 Send again / 🔁 Try again, and the send it repeats: its preview says what became of
    -- that one, however often it is shown again (another sender, plain characters).
    CREATE TABLE resends (
        draft_id   INTEGER PRIMARY KEY REFERENCES sends(id) ON DELETE CASCADE,
        origin_id  INTEGER NOT NULL REFERENCES sends(id) ON DELETE CASCADE
    );
    """,
    # 8 (issues 16 and 17, people): the team's address book — contacts and groups (one namespace: `name_key`,
    # the casefolded name, is unique across both; kept in `names`) — and who is on duty. Changes are audited.
    """
    CREATE TABLE names (
        name_key  TEXT PRIMARY KEY,
        kind      TEXT NOT NULL CHECK (kind IN ('contact', 'group'))
    );
    CREATE TABLE contacts (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        name_key    TEXT NOT NULL UNIQUE REFERENCES names(name_key),
        msisdn      TEXT NOT NULL,
        added_by    INTEGER NOT NULL,
        added_at    TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE recipient_groups (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        name_key    TEXT NOT NULL UNIQUE REFERENCES names(name_key),
        added_by    INTEGER NOT NULL,
        added_at    TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    -- A member is a contact (it follows the contact's number; deleting the contact removes it) or a number.
    CREATE TABLE group_members (
        group_id    INTEGER NOT NULL REFERENCES recipient_groups(id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        contact_id  INTEGER REFERENCES contacts(id) ON DELETE CASCADE,
        msisdn      TEXT,
        PRIMARY KEY (group_id, position),
        CHECK ((contact_id IS NULL) != (msisdn IS NULL))
    );
    CREATE INDEX group_members_contact ON group_members(contact_id);
    -- Who is on duty now: one row at most (a contact, a group or a number; NULLs when the contact or group
    -- on duty was deleted: then nobody is).
    CREATE TABLE duty (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        contact_id  INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
        group_id    INTEGER REFERENCES recipient_groups(id) ON DELETE SET NULL,
        msisdn      TEXT,
        set_by      INTEGER NOT NULL,
        set_at      TEXT NOT NULL
    );
    -- A draft addressed by a contact's name shows that name in its preview (erased with the number).
    ALTER TABLE sends ADD COLUMN recipient_name TEXT;
    -- The guided /send offers the team's most used contacts: sends counted by number.
    CREATE INDEX sends_msisdn ON sends(msisdn) WHERE claimed_at IS NOT NULL;
    """,
    # 9 (issue 17): one send to several recipients. A batch is one draft (one preview, one press); at the press
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
    *LATER,  # 10 onwards: bot/storage/migrations_later.py
]

LATEST = len(MIGRATIONS)

#: PostgreSQL's text of a migration whose SQLite text does not translate (bot/storage/dialect.py: postgres_ddl);
#: by number. Most migrations need none.
POSTGRES_MIGRATIONS: dict[int, str] = {
    # 14: PostgreSQL's identity columns never reuse an id; the counters start above every id the audit log
    # remembers, as on SQLite.
    14: "\n".join(
        f"""SELECT setval(pg_get_serial_sequence('{table}', 'id'),
               GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}),
                        (SELECT COALESCE(MAX(target_id), 0) FROM audit_log WHERE action LIKE '{action}%')) + 1,
               false);"""  # noqa: S608 - constants
        for table, action in (("contacts", "contact"), ("recipient_groups", "group"), ("templates", "template"))
    ),
    # 15: SQLite files fold their stored names again (`name_fold`, a Python function on the connection). A
    # PostgreSQL database is new with this release: its keys were written with the new fold already.
    15: "SELECT 1;",
    # Issue 26.3: text times -> BIGINT epoch seconds, the columns found by name and type (bot.storage.epoch_times).
    MIGRATIONS.index(epoch_times.MARKER) + 1: epoch_times.POSTGRES,
    21: freshness.POSTGRES_STAMPS,
}
