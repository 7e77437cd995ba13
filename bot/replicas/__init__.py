"""Several replicas of the bot on one PostgreSQL database (issue 27).

- `lease.py`: a named lease in the database (`leases`, migration 18): who holds it and until when, by the
  database's clock; taken, renewed and released in one statement each, on a connection of its own.
- `leadership.py`: the leader — the one replica that polls Telegram and does the bot's own work (tracking, owed
  notices, the watchdog, feed and alerts, retention, expiry, the duty schedule). It renews its lease every
  `FAILOVER_SECONDS`/6 and, when it cannot, stops being the leader before the lease can expire for the others
  (fencing, on its own monotonic clock). One process on SQLite is always the leader.
- `poller.py`: long polling that confirms an update to Telegram only once the update's id is recorded
  (`seen_updates`), so a poller killed mid-batch loses nothing: the next one fetches what was not recorded. A
  leader fenced by a database outage polls on in outage mode: each update confirmed, then answered in words
  (`outage.py`), until the database answers again or another replica polls (Telegram's 409).
- `chatlock.py`: one chat's updates handled one at a time and in update_id order, whichever replica gets them
  (advisory locks on connections of their own; announced at arrival, older updates first, within bounds).
- `pace.py`: Telegram's limits for the bot as a whole — each replica takes its share of the overall budget, and
  a chat's next moment is shared by the database's clock.
"""
