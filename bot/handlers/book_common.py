"""What the address book's handlers share: a person's shown name, and a line in the team feed about a change of
duty or of a contact's number (worded in the team chat's language)."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.services.feed import TeamFeed
from bot.sms.clean import clean_name
from bot.storage.db import Database


async def who(db: Database, user_id: int) -> str:
    return clean_name((await db.people.names()).get(user_id, "")) or str(user_id)


def to_feed(feed: TeamFeed | None, i18n: I18n, settings: Settings, render: Callable[[], str]) -> None:
    """`render()` in the team chat's language, posted to the team feed (nothing without TEAM_CHAT_ID)."""
    if feed is None or not feed.enabled:
        return
    with i18n.use_locale(settings.default_locale):
        text = render()
    feed.post(text)


async def post_change(
    db: Database, feed: TeamFeed | None, i18n: I18n, settings: Settings, user_id: int, render: Callable[[str], str]
) -> None:
    """A change made by `user_id`, posted to the team feed: `render(by)` with their shown name (nothing, and no
    read of the name, without TEAM_CHAT_ID)."""
    if feed is None or not feed.enabled:
        return
    by = await who(db, user_id)
    to_feed(feed, i18n, settings, lambda: render(by))
