"""One router per feature. Order matters: commands first (they work at any step of a flow), then the flows."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import (
    admin,
    alerts,
    balance,
    batch,
    cards,
    common,
    contacts,
    duty,
    errors,
    escalation,
    fallback,
    groups,
    history,
    recipient_answers,
    recipients,
    results,
    rotation,
    send,
    status,
    templates,
)


def setup_routers() -> list[Router]:
    # Routers are module-level objects and can be attached to one parent only: detach them first, so that
    # several apps (tests, benchmarks) can be built in one process. aiogram has no public way to detach a
    # router, hence its private `_parent_router` (the one private aiogram attribute the bot touches).
    routers = [
        errors.router,
        common.router,
        admin.router,
        balance.router,
        status.router,
        history.router,
        templates.router,
        contacts.router,
        groups.router,
        duty.router,
        rotation.router,
        escalation.router,
        cards.router,  # a contact's and a group's card buttons
        recipients.router,  # before send: /send and the number step read names too
        recipient_answers.router,
        send.router,
        batch.router,
        alerts.router,
        results.router,
        fallback.router,
    ]
    for router in routers:
        router._parent_router = None
    return routers
