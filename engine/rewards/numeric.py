"""`compare: numeric`: the whole extracted answer must be ONE number, read as a mathematician would.

Accepted around the number: a sign (U+2212 '−' is a minus), a currency sign ($ € £ ¥ ₹), thousands separators,
scientific notation ('1.2e3'), and after it only the name of its unit from the allow-list in
engine.rewards.unit_words ('12 apples', '60 miles per hour', '5 km/h', '25%') and a final period. Anything else makes
the answer wrong rather than "the number in it": words that change the number ('5 million', '3 dozen', '12 and a
half', '7 squared'), a second number ('100 or 120', '12 apples, 3 left over'), an expression ('3/4', '5²', '2+3'), a
decimal comma ('3,5').

Also read as the answer, when they hold the WHOLE answer: `\\boxed{360}` (and `$...$`, `\\(...\\)`), markdown bold
`**7**`, and one variable set to it, `x = 8`. LaTeX's `\\%`, `\\$`, `\\,` and `\\text{...}` read as what they print.
A box among other text ('\\boxed{7}^2', 'The answer is \\boxed{7}') is not the whole answer, so it is wrong.

Thousands separators: commas ('1,450,000') or a space, no-break space or thin space ('1 450 000'), one kind per
number, every group after the first exactly three digits. A space-grouped number reads as one value, so it cannot
hedge between two ('1 200' is 1200, never 1 or 200); two numbers with other spacing ('1 20') are not one number.
Numbers are compared as decimals (no float rounding, no overflow on a 5000-digit answer).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import regex

from engine.rewards.unit_words import is_unit_tail

MAX_ANSWER_CHARS = 200  # a bare number with a unit never needs more
MINUS_SIGNS = "-\u2212"
_NUMBER = regex.compile(
    r"""^(?P<sign>[-+\u2212])?(?P<currency>[$€£¥₹])?(?P<sign2>[-+\u2212])?
    (?P<number>
        (?P<grouped>[0-9]{1,3}(?P<sep>[,\u0020\u00a0\u2009\u202f])[0-9]{3}(?:(?P=sep)[0-9]{3})*)(?:\.[0-9]+)?
      | [0-9]+(?:\.[0-9]+)? | \.[0-9]+
    )(?P<exponent>[eE][-+]?[0-9]{1,3}(?![0-9]))?""", regex.VERBOSE)

# What encloses a whole answer without changing it: math delimiters, a box, markdown bold.
_ENCLOSING = regex.compile(r"^(?:\$\$(?P<b>.*)\$\$|\$(?P<b>.*)\$|\\\((?P<b>.*)\\\)|\\\[(?P<b>.*)\\\]"
                           r"|\\(?:boxed|fbox)\s*\{(?P<b>.*)\}|\*\*(?P<b>.*)\*\*)$", regex.DOTALL)
_VARIABLE = regex.compile(r"^\p{L}[\p{L}\p{N}_]{0,15}\s*=\s*")
_LATEX_TEXT = regex.compile(r"\\(?:text|textrm|mathrm)\s*\{([^{}]*)\}")
_LATEX_SYMBOLS = {"\\%": "%", "\\$": "$", "\\,": "\u2009"}


def _balanced(text: str) -> bool:
    """No brace closes before it opens: '7}{8' (from '\\boxed{7}{8}') is two groups, not one answer."""
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _unwrapped(text: str) -> str:
    """The answer without what encloses it whole ('$\\boxed{x = 8}$.' -> '8'); one variable at most ('x = y = 8'
    is not one number)."""
    named = False
    for _ in range(4):  # '**$\\boxed{x = 7}$**' nests three deep
        text = text.strip().removesuffix(".").strip()
        enclosed = _ENCLOSING.match(text)
        variable = None if named else _VARIABLE.match(text)
        if enclosed and enclosed["b"].strip() and _balanced(enclosed["b"]):
            text = enclosed["b"]
        elif variable and variable.end() < len(text):
            text, named = text[variable.end():], True
        else:
            break
    text = _LATEX_TEXT.sub(r" \1", text)
    for latex, printed in _LATEX_SYMBOLS.items():
        text = text.replace(latex, printed)
    return text.strip()


def parse_number(text: str | None) -> Decimal | None:
    """The value of a text that is one number (see the module's rules), else None."""
    if text is None:
        return None
    text = str(text).strip()
    if not text or len(text) > MAX_ANSWER_CHARS:
        return None
    text = _unwrapped(text)
    found = _NUMBER.match(text, timeout=1.0)
    if not found or (found["sign"] and found["sign2"]) or not is_unit_tail(text[found.end():]):
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
