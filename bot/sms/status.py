"""Delivery status model of the smska gateway (see shared/smska-api.md, "Delivery status")."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class StatusKind(enum.StrEnum):
    """What a status means to an operator; the UI words are chosen by kind."""

    ACCEPTED = "accepted"  # 3 ACCEPTD: handed to the network, keep polling
    DELIVERED = "delivered"  # 4 DELIVRD
    REJECTED = "rejected"  # 5, 6 REJECTD
    EXPIRED = "expired"  # 7 EXPIRED
    DELETED = "deleted"  # 8 DELETED
    OTHER = "other"  # undocumented code: keep polling, show the raw code and name


_DOCUMENTED: dict[int, tuple[StatusKind, bool]] = {
    3: (StatusKind.ACCEPTED, False),
    4: (StatusKind.DELIVERED, True),
    5: (StatusKind.REJECTED, True),
    6: (StatusKind.REJECTED, True),
    7: (StatusKind.EXPIRED, True),
    8: (StatusKind.DELETED, True),
}


# The names the gateway's document gives each documented code.
STATUS_NAMES: dict[int, str] = {3: "ACCEPTD", 4: "DELIVRD", 5: "REJECTD", 6: "REJECTD", 7: "EXPIRED", 8: "DELETED"}


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    code: int
    name: str

    @property
    def kind(self) -> StatusKind:
        return _DOCUMENTED.get(self.code, (StatusKind.OTHER, False))[0]

    @property
    def final(self) -> bool:
        return _DOCUMENTED.get(self.code, (StatusKind.OTHER, False))[1]


def is_documented(code: int) -> bool:
    return code in _DOCUMENTED
