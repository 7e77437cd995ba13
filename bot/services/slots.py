"""A recipient list read halfway, kept in the operator's FSM data while they choose (it survives a restart):
the slots read so far, and the question still open (several names match; a near miss; a second number)."""

from __future__ import annotations

from typing import Any, NamedTuple

from bot.sms.names import Entry, Unsure
from bot.sms.phone import PhoneProblem
from bot.sms.recipients import Recipient


class NoMatch(NamedTuple):
    """The first recipient phrase names nobody; `near`: the closest names (did you mean), `rest` and `comma`:
    what follows the phrase, as for `Unsure`."""

    phrase: str
    near: tuple[Entry, ...] = ()
    rest: str = ""
    comma: bool = False

    def as_unsure(self) -> Unsure:
        return Unsure(self.phrase, "name", self.near, rest=self.rest, comma=self.comma)


class Ambiguous(NamedTuple):
    phrase: str
    choices: tuple[Entry, ...]


#: One recipient phrase once read: its recipients, or the choice still to make.
Slot = list[Recipient] | Ambiguous


def _entries(data: Any) -> tuple[Entry, ...]:
    return tuple(Entry(str(k), int(i), str(n)) for k, i, n in data)  # type: ignore[arg-type]


CHOICES_KEPT = 20  # of the names a phrase could mean, those kept for the choice (the keyboard shows as many)


def slots_to_data(slots: list[Slot]) -> list[Any]:
    """Slots as JSON for the FSM (a choice survives a restart)."""
    out: list[Any] = []
    for slot in slots:
        if isinstance(slot, Ambiguous):
            kept = slot.choices[:CHOICES_KEPT]  # the FSM row stays small however many names match
            out.append({"phrase": slot.phrase, "choices": [[e.kind, e.id, e.name] for e in kept]})
        else:
            out.append([r.to_data() for r in slot])
    return out


def slots_from_data(data: Any) -> list[Slot] | None:
    """None when `data` is not what `slots_to_data` wrote (an old or foreign state)."""
    if not isinstance(data, list):
        return None
    slots: list[Slot] = []
    try:
        for raw in data:
            if isinstance(raw, dict):
                slots.append(Ambiguous(str(raw["phrase"]), _entries(raw["choices"])))
            else:
                slots.append([Recipient.from_data(r) for r in raw])
    except (KeyError, TypeError, ValueError):
        return None
    return slots


def unsure_to_data(unsure: Unsure) -> dict[str, Any]:
    return {
        "phrase": unsure.phrase,
        "kind": unsure.kind,
        "choices": [[e.kind, e.id, e.name] for e in unsure.choices],
        "msisdn": unsure.msisdn,
        "problem": None if unsure.problem is None else unsure.problem.value,
        "rest": unsure.rest,
        "comma": unsure.comma,
    }


def unsure_from_data(data: Any) -> Unsure | None:
    if not isinstance(data, dict):
        return None
    try:
        kind = data["kind"]
        if kind not in ("name", "number", "bad_number"):
            return None
        problem = None if data["problem"] is None else PhoneProblem(data["problem"])
        msisdn = None if data["msisdn"] is None else str(data["msisdn"])
        return Unsure(
            str(data["phrase"]),
            kind,
            _entries(data["choices"]),
            msisdn,
            problem,
            str(data["rest"]),
            bool(data["comma"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
