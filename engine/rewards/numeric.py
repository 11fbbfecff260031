"""`compare: numeric`: the whole extracted answer must be ONE number.

Accepted around the number: a sign (U+2212 '−' is a minus), a currency sign ($ € £), thousands separators, a
trailing '%', up to three trailing unit words ('12 apples', '5 km/h') and a final period. Anything else makes the
answer wrong rather than "the last number in it": a second number ('100 or 120', '12 apples, 3 left over'), an
expression ('3/4', '5²', '2+3'), a decimal comma ('3,5').

Thousands separators: commas ('1,450,000') or a space, no-break space or thin space ('1 450 000'), one kind per
number, every group after the first exactly three digits. A space-grouped number reads as one value, so it cannot
hedge between two ('1 200' is 1200, never 1 or 200); two numbers with other spacing ('1 20') are not one number.
Numbers are compared as decimals (no float rounding, no overflow on a 5000-digit answer).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import regex

MAX_ANSWER_CHARS = 200  # a bare number with a unit never needs more
MINUS_SIGNS = "-\u2212"
_NUMBER = regex.compile(
    r"""^(?P<sign>[-+\u2212])?(?P<currency>[$€£])?(?P<sign2>[-+\u2212])?
    (?P<number>
        (?P<grouped>[0-9]{1,3}(?P<sep>[,\u0020\u00a0\u2009\u202f])[0-9]{3}(?:(?P=sep)[0-9]{3})*)(?:\.[0-9]+)?
      | [0-9]+(?:\.[0-9]+)? | \.[0-9]+
    )(?P<exponent>[eE][-+]?[0-9]{1,3})?
    (?:\s?%)?
    (?:\s+\p{L}[\p{L}'’./\-]*){0,3}
    \.?$""", regex.VERBOSE)


def parse_number(text: str | None) -> Decimal | None:
    """The value of a text that is one number (see the module's rules), else None."""
    if text is None:
        return None
    text = str(text).strip()
    if not text or len(text) > MAX_ANSWER_CHARS:
        return None
    found = _NUMBER.match(text, timeout=1.0)
    if not found or (found["sign"] and found["sign2"]):
        return None
    digits = found["number"]
    if found["grouped"]:
        digits = digits.replace(found["sep"], "")
    sign = found["sign"] or found["sign2"] or ""
    try:
        value = Decimal(digits + (found["exponent"] or ""))
    except InvalidOperation:
        return None
    return -value if sign in MINUS_SIGNS and sign else value


def numbers_equal(predicted: str, gold: str, tolerance: float) -> bool:
    """Both one number and within `tolerance`; a gold answer that is not one number is compared as exact text."""
    gold_value = parse_number(gold)
    if gold_value is None:
        return predicted.strip() == str(gold).strip()
    value = parse_number(predicted)
    return value is not None and abs(value - gold_value) <= Decimal(repr(tolerance))
