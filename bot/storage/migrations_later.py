"""Schema migrations 10 onwards (the third wave), appended to `bot.storage.migrations.MIGRATIONS` in order.

Append new migrations at the end; never edit one that has shipped (an operator's file was built with it).
"""

from __future__ import annotations

from bot.storage import epoch_times

LATER: list[str] = [
    # 10: duty by schedule (issue 29): a rotation, an override of it until the next handoff, and the handoff
    # last posted to the team feed. Moments are epoch seconds (REAL), compared as numbers.
    """
    CREATE TABLE duty_rotation (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        members       TEXT NOT NULL,  -- JSON: [{"kind": "contact" | "group", "id": n}, ...] in turn order
        kind          TEXT NOT NULL CHECK (kind IN ('weekly', 'daily', 'hours')),
        minute        INTEGER NOT NULL,
        weekday       INTEGER NOT NULL DEFAULT 0,
        hours         INTEGER NOT NULL DEFAULT 24,
        anchor        TEXT NOT NULL,  -- the first turn's handoff, a local wall-clock time (ISO, no offset)
        set_by        INTEGER NOT NULL,
        set_at        REAL NOT NULL
    );
    CREATE TABLE duty_override (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        contact_id  INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
        group_id    INTEGER REFERENCES recipient_groups(id) ON DELETE SET NULL,
        msisdn      TEXT,
        until       REAL NOT NULL,
        set_by      INTEGER NOT NULL,
        set_at      REAL NOT NULL
    );
    CREATE TABLE duty_handoffs (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        turn        TEXT NOT NULL,  -- which turn was last posted: source, who and since
        posted_at   REAL NOT NULL
    );
    """,
    # 11 (issue 24 row 10): the retention sweep (bot/services/retention.py, bot/storage/retention.py) finds what
    # is old by these, instead of reading every row of a table that grows.
    """
    CREATE INDEX audit_log_at ON audit_log(at);
    CREATE INDEX alert_groups_received ON alert_groups(received_at);
    CREATE INDEX feed_lines_created ON feed_lines(created_at);
    CREATE INDEX delivery_alerts_decided ON delivery_alerts(decided_at);
    CREATE INDEX batches_created ON batches(created_at);
    CREATE INDEX access_requests_decided ON access_requests(decided_at) WHERE status != 'pending';
    """,
    # 12 (issues 23 and 24, alerts): one place for an alert group's state as operators act on it. Who sent its
    # SMS to duty (`acted_*`: every copy says so); the drafts opened from it (its resolution closes them);
    # where its current post went (`placed_for`: the `posted_at` that was placed; `digest_id`: NULL for its own
    # messages, else the storm digest that lists it) and the digests themselves, one message per chat.
    """
    ALTER TABLE alert_groups ADD COLUMN acted_by INTEGER;
    ALTER TABLE alert_groups ADD COLUMN acted_at TEXT;
    ALTER TABLE alert_groups ADD COLUMN acted_send INTEGER;
    ALTER TABLE alert_groups ADD COLUMN placed_for TEXT;
    ALTER TABLE alert_groups ADD COLUMN digest_id INTEGER;
    CREATE INDEX alert_groups_digest ON alert_groups(digest_id) WHERE digest_id IS NOT NULL;
    CREATE INDEX alert_groups_placed ON alert_groups(placed_for) WHERE digest_id IS NULL;
    CREATE TABLE alert_digests (
        id          INTEGER PRIMARY KEY,
        started_at  TEXT NOT NULL,
        last_at     TEXT NOT NULL,
        wanted_at   TEXT
    );
    CREATE TABLE alert_digest_messages (
        digest_id   INTEGER NOT NULL REFERENCES alert_digests(id) ON DELETE CASCADE,
        chat_id     INTEGER NOT NULL,
        message_id  INTEGER,
        shown       TEXT,
        PRIMARY KEY (digest_id, chat_id)
    );
    CREATE TABLE alert_drafts (
        group_id    INTEGER NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
        send_id     INTEGER UNIQUE REFERENCES sends(id) ON DELETE CASCADE,
        batch_id    INTEGER UNIQUE REFERENCES batches(id) ON DELETE CASCADE,
        CHECK ((send_id IS NULL) != (batch_id IS NULL))
    );
    CREATE INDEX alert_drafts_group ON alert_drafts(group_id);
    """,
    # 13 (issue 24, previews): a newer preview closes only OLDER open previews of the same SMS, singles and
    # batches alike. A batch draft keeps where it stands among the single drafts (`opened_after`: the highest
    # `sends` id when it was made; 0 for older rows), so one order covers both tables. `origin_id`: the batch whose
    # summary's 🔁 Resend opened this draft; at most one such draft is open per summary (a double press opens one).
    """
    ALTER TABLE batches ADD COLUMN opened_after INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE batches ADD COLUMN origin_id INTEGER REFERENCES batches(id) ON DELETE SET NULL;
    CREATE UNIQUE INDEX batches_open_resend ON batches(origin_id) WHERE state = 'draft' AND origin_id IS NOT NULL;
    CREATE INDEX batch_members_msisdn ON batch_members(msisdn);
    CREATE INDEX sends_user_draft ON sends(user_id, id) WHERE state = 'draft';
    """,
    # 14 (issue 24 row 6): ids of contacts, groups and templates are never reused (AUTOINCREMENT), so a stale
    # button on a deleted row never acts on a newer one. SQLite adds AUTOINCREMENT only by rebuilding the table
    # (foreign keys are off while migrations run: the rebuild neither cascades nor rewrites the children's
    # references). The counters start above every id the audit log remembers, not only the rows still there.
    """
    CREATE TABLE contacts_new (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        name        TEXT NOT NULL,
        name_key    TEXT NOT NULL UNIQUE REFERENCES names(name_key),
        msisdn      TEXT NOT NULL,
        added_by    INTEGER NOT NULL,
        added_at    TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    INSERT INTO contacts_new (id, name, name_key, msisdn, added_by, added_at, updated_at)
        SELECT id, name, name_key, msisdn, added_by, added_at, updated_at FROM contacts;
    DROP TABLE contacts;
    ALTER TABLE contacts_new RENAME TO contacts;
    CREATE TABLE recipient_groups_new (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        name        TEXT NOT NULL,
        name_key    TEXT NOT NULL UNIQUE REFERENCES names(name_key),
        added_by    INTEGER NOT NULL,
        added_at    TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    INSERT INTO recipient_groups_new (id, name, name_key, added_by, added_at, updated_at)
        SELECT id, name, name_key, added_by, added_at, updated_at FROM recipient_groups;
    DROP TABLE recipient_groups;
    ALTER TABLE recipient_groups_new RENAME TO recipient_groups;
    CREATE TABLE templates_new (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        key       TEXT NOT NULL UNIQUE,
        name      TEXT NOT NULL,
        text      TEXT NOT NULL,
        saved_by  INTEGER NOT NULL,
        saved_at  TEXT NOT NULL,
        uses      INTEGER NOT NULL DEFAULT 0,
        used_at   TEXT
    );
    INSERT INTO templates_new (id, key, name, text, saved_by, saved_at, uses, used_at)
        SELECT id, key, name, text, saved_by, saved_at, uses, used_at FROM templates;
    DROP TABLE templates;
    ALTER TABLE templates_new RENAME TO templates;
    CREATE INDEX templates_popular ON templates(uses DESC, saved_at DESC);
    DELETE FROM sqlite_sequence WHERE name IN ('contacts', 'recipient_groups', 'templates');
    INSERT INTO sqlite_sequence (name, seq) VALUES
        ('contacts', MAX((SELECT COALESCE(MAX(id), 0) FROM contacts),
                         (SELECT COALESCE(MAX(target_id), 0) FROM audit_log WHERE action LIKE 'contact%'))),
        ('recipient_groups', MAX((SELECT COALESCE(MAX(id), 0) FROM recipient_groups),
                                 (SELECT COALESCE(MAX(target_id), 0) FROM audit_log WHERE action LIKE 'group%'))),
        ('templates', MAX((SELECT COALESCE(MAX(id), 0) FROM templates),
                          (SELECT COALESCE(MAX(target_id), 0) FROM audit_log WHERE action LIKE 'template%')));
    """,
    # 15 (issues 23.4, 24.17, names): names fold Unicode forms, invisible characters and lookalike Latin/Cyrillic/
    # Greek letters (`bot.sms.names.name_key`), and templates' keys fold ё/е and lookalikes too. The stored keys
    # are folded again with that function (`name_fold`, registered on the connection by bot.storage.db). Two
    # names that only now fold alike both stay: the older keeps the key, a later one gets its own (the fold,
    # U+2063 and its id; nothing typed folds to that), so it is still listed, shown and sent to by its buttons.
    """
    PRAGMA defer_foreign_keys = ON;
    UPDATE contacts SET name_key = '~c' || id;
    UPDATE recipient_groups SET name_key = '~g' || id;
    DELETE FROM names;
    UPDATE contacts SET name_key = name_fold(name) || CASE
        WHEN EXISTS (SELECT 1 FROM contacts o
                      WHERE o.id < contacts.id AND name_fold(o.name) = name_fold(contacts.name))
        THEN char(8291) || 'c' || id ELSE '' END;
    UPDATE recipient_groups SET name_key = name_fold(name) || CASE
        WHEN EXISTS (SELECT 1 FROM contacts o WHERE name_fold(o.name) = name_fold(recipient_groups.name))
          OR EXISTS (SELECT 1 FROM recipient_groups o
                      WHERE o.id < recipient_groups.id AND name_fold(o.name) = name_fold(recipient_groups.name))
        THEN char(8291) || 'g' || id ELSE '' END;
    INSERT INTO names (name_key, kind)
        SELECT name_key, 'contact' FROM contacts UNION ALL SELECT name_key, 'group' FROM recipient_groups;
    UPDATE templates SET key = '~t' || id;
    UPDATE templates SET key = name_fold(name) || CASE
        WHEN EXISTS (SELECT 1 FROM templates o
                      WHERE o.id < templates.id AND name_fold(o.name) = name_fold(templates.name))
        THEN char(8291) || 't' || id ELSE '' END;
    """,
    # 16 (issue 23.11, names): how a recipient was chosen stays with the send — "group:<name>" (a group's member),
    # "duty", "duty:<group>" (bot.sms.recipients.Recipient.via) — so the preview and the summary say "👥 Night (7)"
    # and "duty — Ivan Petrov". A group's name is the team's word, not a person's: RETENTION_DAYS leaves it.
    """
    ALTER TABLE sends ADD COLUMN recipient_via TEXT;
    ALTER TABLE batch_members ADD COLUMN via TEXT;
    """,
    # 17 (issue 28): "✋ I'm on it" — who took an alert group and when (epoch seconds, bot.times); the escalation
    # ladder stops for a taken group. Cleared when the one who took it lets it go, and when the group resolves.
    """
    ALTER TABLE alert_groups ADD COLUMN taken_by INTEGER;
    ALTER TABLE alert_groups ADD COLUMN taken_at INTEGER;
    """,
    # 18 (issue 27): leases — which replica does a named piece of work ("leader": polling and the bot's own work)
    # and until when (epoch seconds by the database's clock, so the replicas' clocks need not agree). Used on
    # PostgreSQL only; one SQLite process is always the leader (bot/replicas).
    """
    CREATE TABLE leases (
        name       TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        taken_at   INTEGER NOT NULL
    );
    """,
    # 19 (issue 26.3): every stored moment as INTEGER epoch seconds (bot.times) on both engines, compared as
    # numbers. The script is made when it runs, from the file's own schema (bot/storage/epoch_times.py), so it
    # converts exactly the TEXT time columns the file has; keep it the LAST migration of its release.
    epoch_times.MARKER,
    # 20 (issue 28, ladder): the escalation ladder and its auto-SMS. `fired_at`: when the bot first received the
    # group as firing (epoch seconds; a re-fire after a resolve starts anew): steps count from it. Each step as the
    # admin typed it (`recipient`: duty, a contact, a group or a number, resolved when due). `escalation_sends`:
    # one row per (group, firing, step, number), written with its `sends` row before the gateway is called, so
    # nobody gets a step twice; several rows share one send when they went out as one bundled SMS.
    """
    ALTER TABLE alert_groups ADD COLUMN fired_at INTEGER;
    CREATE TABLE escalation_steps (
        step       INTEGER PRIMARY KEY,
        minutes    INTEGER NOT NULL,
        recipient  TEXT NOT NULL
    );
    CREATE TABLE escalation_sends (
        group_id     INTEGER NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
        fired_at     INTEGER NOT NULL,
        step         INTEGER NOT NULL,
        msisdn       TEXT NOT NULL,
        due_at       INTEGER NOT NULL,
        send_id      INTEGER NOT NULL,
        recorded_at  INTEGER NOT NULL,
        PRIMARY KEY (group_id, fired_at, step, msisdn)
    );
    CREATE INDEX escalation_sends_send ON escalation_sends(send_id);
    CREATE INDEX escalation_sends_recorded ON escalation_sends(recorded_at);
    """,
    # 21 (issue 26.7): PostgreSQL only (bot/storage/freshness.py): every write to `people`, `operators` and
    # `fsm_states`, by any session, stamps that session's row of `cache_writes` in its own transaction, so that
    # each replica forgets what it keeps in memory of them only when another session wrote. SQLite has one
    # process, the only writer: nothing to stamp (POSTGRES_MIGRATIONS holds the text that runs).
    "SELECT 1;",
]
