"""`/send +79041764995, +79041764996 text`: several numbers separated by commas, then the text. Pure.

A stand-in for the real recipient parser (contacts, groups, duty: bot/services/directory.py, branch people),
which the lead swaps in at merge; this one reads numbers only.
"""

from __future__ import annotations

from bot.sms.phone import PhoneError, normalize_phone
from bot.sms.recipients import Recipient, split_number


def split_numbers(args: str) -> tuple[list[Recipient], str] | None:
    """(recipients, text) when `args` starts with two or more comma-separated numbers; else None (one number,
    or not numbers: the single-recipient reading applies). The last number is the one the text follows."""
    chunks = args.split(",")
    if len(chunks) < 2:
        return None
    recipients: list[Recipient] = []
    for i, chunk in enumerate(chunks):
        try:
            recipients.append(Recipient(normalize_phone(chunk.strip())))
            continue
        except PhoneError:
            pass
        split = split_number(chunk)
        if split.msisdn is None or i == 0:
            return None
        recipients.append(Recipient(split.msisdn))
        return recipients, ",".join([split.text, *chunks[i + 1 :]]).strip()
    return (recipients, "") if len(recipients) >= 2 else None
