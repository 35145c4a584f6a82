"""Phone numbers of SMS subscribers: parsed, checked and stored as E.164 (phonenumbers)."""

from __future__ import annotations

import phonenumbers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

DEFAULT_REGION = "FR"

_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: gettext_noop(
        "this country code does not exist"
    ),
    phonenumbers.ValidationResult.TOO_SHORT: gettext_noop("too short"),
    phonenumbers.ValidationResult.TOO_LONG: gettext_noop("too long"),
    phonenumbers.ValidationResult.INVALID_LENGTH: gettext_noop(
        "not a possible length for this country"
    ),
}
# Numbers that cannot receive an SMS.
_NO_SMS = {
    phonenumbers.PhoneNumberType.FIXED_LINE: gettext_noop("a landline number cannot receive SMS"),
    phonenumbers.PhoneNumberType.PREMIUM_RATE: gettext_noop(
        "a premium-rate number cannot receive SMS"
    ),
    phonenumbers.PhoneNumberType.TOLL_FREE: gettext_noop("a toll-free number cannot receive SMS"),
    phonenumbers.PhoneNumberType.SHARED_COST: gettext_noop(
        "a shared-cost number cannot receive SMS"
    ),
}


class InvalidPhone(ValueError):
    """The number is refused; str(exc) says why, in the person's language."""


def normalise_phone(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """'06 12 34 56 78' or '+33 6 12…' → '+33612345678', or InvalidPhone with the reason."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone(_("Enter a mobile phone number."))
    if len(text) > 32:
        raise InvalidPhone(_("This is not a phone number: too long."))
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(
            _("This is not a phone number: %(reason)s.") % {"reason": str(exc._msg).rstrip(".")}
        ) from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible not in (
        phonenumbers.ValidationResult.IS_POSSIBLE,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ):
        reason = _REASONS.get(possible, gettext_noop("not a possible number"))
        raise InvalidPhone(
            _("This is not a valid phone number: %(reason)s.") % {"reason": _(reason)}
        )
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(
            _("This is not a valid phone number: no such number in %(region)s.")
            % {"region": phonenumbers.region_code_for_number(number) or region}
        )
    kind = phonenumbers.number_type(number)
    if kind in _NO_SMS:
        raise InvalidPhone(
            _("This number cannot be used: %(reason)s.") % {"reason": _(_NO_SMS[kind])}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def same_number(raw: str) -> str:
    """A sender's number as a gateway gives it (+33…, 33…) → E.164, or '' if it is not one."""
    text = (raw or "").strip()
    if text and text[0].isdigit():
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
