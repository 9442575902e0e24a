from __future__ import annotations

import phonenumbers

LETTERS = "a phone number has digits only; letters are not accepted"
EXTENSION = "extensions are not accepted"


class InvalidPhone(ValueError):
    """A typed phone number that cannot be kept; the message says why."""


def to_e164(typed: str, default_region: str = "US") -> str:
    """A phone number as people type it ("(714) 555-0123") in E.164 ("+17145550123").

    A number with an extension or with letters (1-800-FLOWERS) is refused rather than
    guessed at: a text cannot dial an extension, and letters are easily mistyped digits.
    """
    try:
        number = phonenumbers.parse(typed, default_region)
    except phonenumbers.NumberParseException:
        number = None
    # The extension first: its marker ("ext", "x") is letters too, and the extension is the reason.
    if number is not None and number.extension:
        raise InvalidPhone(EXTENSION)
    if any(c.isalpha() for c in typed):
        raise InvalidPhone(LETTERS)
    if number is None:
        raise InvalidPhone(f"{typed!r} is not a phone number")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{typed!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
