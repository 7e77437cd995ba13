"""The text of an auto-SMS (issue 28): what the gateway sends, not what a person reads in Telegram, so the same in
every language — `[FIRING] <alertname>: <summary>`, or for a bundle `[FIRING] 3 alerts: DiskFull, DbDown, CpuHot`
— always at most MAX_PARTS SMS parts. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from bot.sms.parts import count_parts, fit

MAX_PARTS = 2


def one_alert(alertname: str, summary: str, max_parts: int = MAX_PARTS) -> str:
    text = f"[FIRING] {alertname or 'alert'}: {summary}".strip().rstrip(":")
    return fit(text, max_parts)


def bundle(names: Sequence[str], max_parts: int = MAX_PARTS) -> str:
    """Several alerts due for one number at once: every name, as many as fit, then "+N more"."""
    names = [" ".join((n or "alert").split()) for n in names]
    head = f"[FIRING] {len(names)} alerts: "

    def text(shown: int) -> str:
        left = len(names) - shown
        return head + ", ".join(names[:shown]) + (f" +{left} more" if left else "")

    if count_parts(text(len(names))).parts <= max_parts:
        return text(len(names))
    low, high = 0, len(names)  # the most names that fit (fewer names never need more parts)
    while low < high:
        middle = (low + high + 1) // 2
        if count_parts(text(middle)).parts <= max_parts:
            low = middle
        else:
            high = middle - 1
    return text(low) if low else fit(text(1), max_parts)


def auto_sms(alerts: Sequence[tuple[str, str]], max_parts: int = MAX_PARTS) -> str:
    """The auto-SMS for these (alertname, summary), one alert or a bundle (distinct groups, same names kept)."""
    if len(alerts) == 1:
        return one_alert(*alerts[0], max_parts=max_parts)
    return bundle([name for name, _ in alerts], max_parts)
