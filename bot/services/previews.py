"""Open previews of the same SMS: a newer one closes this operator's OLDER ones, singles and batches alike.

"The same SMS" (issue 24): between two single previews, the same number or the same text (the first-wave rule: a
correction of either); when a batch is one of them, the same text to at least one of the same numbers (a preview
to A, then one to A and B with that text, closes the first; a batch with another text, or to other people, stays).
Each table is closed by one conditional UPDATE that touches only older drafts — by id within a table, and across
the two by a batch's `opened_after` (the highest `sends` id when it was made) — so whatever the interleaving, the
newest preview is never closed and every older one is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.storage.batches import BatchRow
from bot.storage.db import Database
from bot.storage.models import SendRow


@dataclass(frozen=True, slots=True)
class Closed:
    """Previews a newer one closed (each says so on its message)."""

    sends: list[SendRow] = field(default_factory=list)
    batches: list[BatchRow] = field(default_factory=list)


async def close_older_than_send(db: Database, row: SendRow) -> Closed:
    return Closed(await db.sends.close_older(row), await db.batches.close_older_than_send(row))


async def close_older_than_batch(db: Database, batch: BatchRow) -> Closed:
    singles = await db.sends.close_older_than_batch(batch.user_id, batch.id, batch.opened_after, batch.text)
    return Closed(singles, await db.batches.close_older(batch))
