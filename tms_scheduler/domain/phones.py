from __future__ import annotations

import phonenumbers


class InvalidPhone(ValueError):
    pass


def to_e164(typed: str, default_region: str = "US") -> str:
    """A phone number as people type it ("(714) 555-0123") in E.164 ("+17145550123")."""
    try:
        number = phonenumbers.parse(typed, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"{typed!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{typed!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
