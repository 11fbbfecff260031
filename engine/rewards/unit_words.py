"""The words that may follow a number in a numeric answer ('12 apples', '60 miles per hour', '5 km/h', '25%').

An allow-list, not a list of words that change a number: a model searching for a word we forgot ('5 grand',
'3 score', '7-ish') finds every word not listed refused. Nothing listed multiplies, divides or hedges the number it
follows: multiples of a count (dozen, pair, score, gross, hundred, thousand, million, k), fractions (half, third,
quarter), operators (times, plus, squared, cubed) and hedges (or, to, about, so) are left out on purpose, and so are
coins worth several cents (dime, quarter). A unit that is not the one asked ('3 minutes' for hours) is still the
number written: the answer is compared as that number.

The tail after the number is: an optional quantity, then an optional rate, then nothing.

    quantity := [square | sq | cubic | cu] unit [unit]      ('12 apples', 'degrees Celsius', 'sq ft')
    rate     := (per | / | a | an | each | every) quantity  |  each      ('per hour', '/h', 'an hour', 'each')
"""

from __future__ import annotations

import regex

# Spelled-out units, compared case-insensitively; the plural adds 's' or 'es' (irregular plurals are listed).
SPELLED = frozenset("""
    dollar cent penny pennies euro pound yen yuan rupee peso franc buck
    percent percentage point
    millimeter millimetre centimeter centimetre meter metre kilometer kilometre inch foot feet yard mile acre
    milligram gram kilogram kilo ounce ton tonne
    milliliter millilitre liter litre gallon quart pint cup tablespoon teaspoon
    second minute hour day week month year
    degree celsius fahrenheit
    person people child children kid adult student friend customer apple orange banana fruit egg cookie cupcake
    cake pie slice piece page book marble fish box can bottle bag pencil pen crayon card sticker stamp ticket flower
    tree bird animal car chair game candy candies coin ball balloon calorie item
""".split())

# Symbols and abbreviations, compared exactly: 'm' is metres, while 'M' (million) and 'k' (thousand) are not here.
ABBREVIATED = frozenset("""
    $ € £ ¥ ₹ % ° °C °F USD EUR GBP
    mm cm m km in ft yd mi mg g kg lb lbs oz ml mL l L gal qt pt tbsp tsp
    ms s sec secs min mins h hr hrs wk wks yr yrs mph kph
""".split()) | {f"{unit}{power}" for unit in ("mm", "cm", "m", "km", "in", "ft") for power in ("²", "³", "^2", "^3")}

AREA_OR_VOLUME = frozenset({"square", "sq", "sq.", "cubic", "cu"})
RATE = frozenset({"per", "/", "a", "an", "each", "every"})
MAX_TAIL_WORDS = 8
_TOKENS = regex.compile(r"/|[^\s/]+")


def is_unit(word: str) -> bool:
    if word in ABBREVIATED:
        return True
    folded = word.casefold()
    return (folded in SPELLED or (folded.endswith("s") and folded[:-1] in SPELLED)
            or (folded.endswith("es") and folded[:-2] in SPELLED))


def _quantity(words: list[str], at: int) -> int | None:
    """Where a quantity starting at `at` ends, or None when there is none."""
    if at < len(words) and words[at].casefold() in AREA_OR_VOLUME:
        at += 1
    if at >= len(words) or not is_unit(words[at]):
        return None
    at += 1
    return at + 1 if at < len(words) and is_unit(words[at]) else at


def is_unit_tail(text: str) -> bool:
    """Whether what follows a number only names its unit (empty included); a final period is allowed."""
    text = text.strip()
    text = text[:-1] if text.endswith(".") else text
    words = _TOKENS.findall(text)
    if len(words) > MAX_TAIL_WORDS:
        return False
    at = _quantity(words, 0) or 0
    if at < len(words) and words[at].casefold() in RATE:
        after = _quantity(words, at + 1)
        at = after if after is not None else at + 1 if words[at].casefold() == "each" else at
    return at == len(words)
