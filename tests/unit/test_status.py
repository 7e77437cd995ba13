import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sms.status import DeliveryStatus, StatusKind, is_documented


@pytest.mark.parametrize(
    ("code", "name", "kind", "final"),
    [
        (3, "ACCEPTD", StatusKind.ACCEPTED, False),
        (4, "DELIVRD", StatusKind.DELIVERED, True),
        (5, "REJECTD", StatusKind.REJECTED, True),
        (6, "REJECTD", StatusKind.REJECTED, True),
        (7, "EXPIRED", StatusKind.EXPIRED, True),
        (8, "DELETED", StatusKind.DELETED, True),
    ],
)
def test_documented_codes(code: int, name: str, kind: StatusKind, final: bool) -> None:
    status = DeliveryStatus(code, name)
    assert status.kind is kind
    assert status.final is final
    assert is_documented(code)


@pytest.mark.parametrize("code", [-1, 0, 1, 2, 9, 10, 99, 2**40])
def test_unknown_codes_keep_polling(code: int) -> None:
    status = DeliveryStatus(code, "WHATEVER")
    assert status.kind is StatusKind.OTHER
    assert status.final is False
    assert not is_documented(code)


@given(st.integers().filter(lambda c: c not in range(3, 9)), st.text(max_size=10))
def test_any_undocumented_code_is_not_final(code: int, name: str) -> None:
    status = DeliveryStatus(code, name)
    assert (status.kind, status.final, is_documented(code)) == (StatusKind.OTHER, False, False)


def test_kind_ignores_the_name() -> None:
    # the gateway's word may differ in spelling; the code decides
    assert DeliveryStatus(4, "delivered").final is True
    assert DeliveryStatus(9, "DELIVRD").final is False


def test_status_is_frozen_value() -> None:
    assert DeliveryStatus(4, "DELIVRD") == DeliveryStatus(4, "DELIVRD")
    with pytest.raises(AttributeError):
        DeliveryStatus(4, "DELIVRD").code = 5  # type: ignore[misc]
