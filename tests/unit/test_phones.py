"""phones.to_e164: US numbers as people type them, in E.164."""
from __future__ import annotations

import pytest

from tms_scheduler.domain.phones import InvalidPhone, to_e164


@pytest.mark.parametrize("typed", [
    "(714) 555-0123",
    "714-555-0123",
    "714.555.0123",
    "714 555 0123",
    "7145550123",
    "1-714-555-0123",
    "+1 714 555 0123",
    "+17145550123",
    " (714) 555-0123 ",
])
def test_a_us_number_as_typed_is_given_in_e164(typed):
    assert to_e164(typed) == "+17145550123"


def test_a_number_with_its_own_country_code_keeps_it():
    assert to_e164("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize("typed", [
    "",
    "not a phone",
    "12345",
    "(714) 555-012",
    "(714) 555-01234",
    "(000) 555-0123",
    "(123) 555-0123",
])
def test_an_invalid_number_is_refused(typed):
    with pytest.raises(InvalidPhone):
        to_e164(typed)


def test_an_invalid_number_is_refused_as_a_value_error():
    with pytest.raises(ValueError):
        to_e164("12345")


@pytest.mark.parametrize("typed", ["1-800-FLOWERS", "714-555-O123", "(714) CALL-NOW"])
def test_a_number_with_letters_is_refused_saying_letters_are_not_accepted(typed):
    with pytest.raises(InvalidPhone, match="letters are not accepted"):
        to_e164(typed)


@pytest.mark.parametrize("typed", ["714-555-0123 ext 4", "714-555-0123 x4", "(714) 555-0123 ext. 12",
                                   "714-555-0123,4", "+1 714 555 0123 extension 4"])
def test_a_number_with_an_extension_is_refused_saying_extensions_are_not_accepted(typed):
    with pytest.raises(InvalidPhone, match="^extensions are not accepted$"):
        to_e164(typed)


def test_a_mexican_number_typed_with_its_country_code_is_given_in_e164():
    assert to_e164("+52 55 1234 5678") == "+525512345678"
