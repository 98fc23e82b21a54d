"""Number words 0..99 in en, es, zh, fr and de, and the operator words (written for semhub).

Small and explicit instead of a dependency: the aligned arithmetic data must be exact and
reproducible in every language the built-in samples use.
"""
from __future__ import annotations

EN_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
           "sixteen seventeen eighteen nineteen").split()
EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
ES_ONES = ("cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciséis "
           "diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés veinticuatro veinticinco "
           "veintiséis veintisiete veintiocho veintinueve").split()
ES_TENS = "_ _ _ treinta cuarenta cincuenta sesenta setenta ochenta noventa".split()
ZH_DIGITS = "零一二三四五六七八九"
FR_ONES = ("zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize "
           "dix-sept dix-huit dix-neuf").split()
FR_TENS = "_ _ vingt trente quarante cinquante soixante _ quatre-vingt _".split()
DE_ONES = ("null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn fünfzehn "
           "sechzehn siebzehn achtzehn neunzehn").split()
DE_TENS = "_ _ zwanzig dreißig vierzig fünfzig sechzig siebzig achtzig neunzig".split()

OPERATORS = {
    "+": {"en": "plus", "es": "más", "zh": "加", "fr": "plus", "de": "plus"},
    "*": {"en": "times", "es": "por", "zh": "乘以", "fr": "fois", "de": "mal"},
    "-": {"en": "minus", "es": "menos", "zh": "减", "fr": "moins", "de": "minus"},
}
LANGUAGES = ("en", "es", "zh", "fr", "de")


def _en(n: int) -> str:
    if n < 20:
        return EN_ONES[n]
    tens, ones = divmod(n, 10)
    return EN_TENS[tens] + (f"-{EN_ONES[ones]}" if ones else "")


def _es(n: int) -> str:
    if n < 30:
        return ES_ONES[n]
    tens, ones = divmod(n, 10)
    return ES_TENS[tens] + (f" y {ES_ONES[ones]}" if ones else "")


def _zh(n: int) -> str:
    if n <= 10:
        return "十" if n == 10 else ZH_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "十" if tens == 1 else ZH_DIGITS[tens] + "十"
    return head + (ZH_DIGITS[ones] if ones else "")


def _fr(n: int) -> str:
    if n < 20:
        return FR_ONES[n]
    tens, ones = divmod(n, 10)
    if tens in (7, 9):  # soixante-dix..., quatre-vingt-dix...
        base, rest = ("soixante", 10 + ones) if tens == 7 else ("quatre-vingt", 10 + ones)
        joiner = " et " if (tens == 7 and ones == 1) else "-"
        return base + joiner + FR_ONES[rest]
    if tens == 8:
        return "quatre-vingts" if ones == 0 else "quatre-vingt-" + FR_ONES[ones]
    if ones == 0:
        return FR_TENS[tens]
    return FR_TENS[tens] + (" et un" if ones == 1 else "-" + FR_ONES[ones])


def _de(n: int) -> str:
    if n < 20:
        return DE_ONES[n]
    tens, ones = divmod(n, 10)
    if ones == 0:
        return DE_TENS[tens]
    unit = "ein" if ones == 1 else DE_ONES[ones]
    return f"{unit}und{DE_TENS[tens]}"


SPELL = {"en": _en, "es": _es, "zh": _zh, "fr": _fr, "de": _de}


def spell(n: int, lang: str) -> str:
    """``n`` (0..99) as a word in ``lang``."""
    if not 0 <= n <= 99:
        raise ValueError(f"number words cover 0..99, not {n}")
    return SPELL[lang](n)


def expression_words(a: int, op: str, b: int, lang: str) -> str:
    """"three plus two", "tres más dos", "三加二"..."""
    sep = "" if lang == "zh" else " "
    return sep.join([spell(a, lang), OPERATORS[op][lang], spell(b, lang)])
