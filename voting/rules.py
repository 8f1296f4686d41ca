"""The rules of procedure for a vote (表决规则), as plain Python.

Each rule below carries its one-line definition from the specification in its docstring,
so that a reader can check the code against the rule it encodes. Shares are computed
exactly with :class:`fractions.Fraction`, never with floats.

Vocabulary:

- *eligible*: the number of voters eligible for this vote, frozen when it opened;
- *ballots cast*: every ballot, abstentions included;
- *counts*: ballots per choice (``yes``, ``no``, ``abstain``, or one per option label).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import ceil

# --- vocabulary ----------------------------------------------------------------------------

YES = "yes"
NO = "no"
ABSTAIN = "abstain"
YES_NO_ABSTAIN = (YES, NO, ABSTAIN)

#: A motion (赞成 / 反对 / 弃权), or a question with 2–10 named options.
KINDS = ("yes_no_abstain", "options")

SIMPLE = "simple"
MAJORITY_CAST = "majority_cast"
MAJORITY_ELIGIBLE = "majority_eligible"
TWO_THIRDS = "two_thirds"
PLURALITY = "plurality"
#: Thresholds for a yes/no/abstain vote.
MOTION_THRESHOLDS = (SIMPLE, MAJORITY_CAST, MAJORITY_ELIGIBLE, TWO_THIRDS)
#: Every threshold; ``plurality`` is the rule of option votes.
THRESHOLDS = (*MOTION_THRESHOLDS, PLURALITY)

ADOPTED = "adopted"
REJECTED = "rejected"
NO_QUORUM = "no_quorum"
TIE = "tie"

MIN_OPTIONS = 2
MAX_OPTIONS = 10
MAX_OPTION_LENGTH = 100
#: Choices that an option cannot be called, because they mean something else.
RESERVED_LABELS = frozenset({ABSTAIN, ADOPTED, REJECTED, NO_QUORUM, TIE})

_QUORUM = re.compile(r"\s*(\d{1,4})\s*/\s*(\d{1,4})\s*")


class RuleError(ValueError):
    """Settings that no rule of procedure allows; ``code`` is stable, for the API."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """A vote's rules, fixed when it opens."""

    kind: str = "yes_no_abstain"
    options: tuple[str, ...] = ()
    threshold: str = SIMPLE
    quorum: Fraction | None = None

    @property
    def choices(self) -> tuple[str, ...]:
        return choices_for(self.kind, self.options)


def choices_for(kind: str, options: Sequence[str] = ()) -> tuple[str, ...]:
    """The choices on the ballot: yes, no, abstain; or each option and abstain."""
    if kind == "options":
        return (*options, ABSTAIN)
    return YES_NO_ABSTAIN


def parse_quorum(value) -> Fraction | None:
    """Quorum: none, or a minimum share of eligible voters who must cast a ballot (1/2, 2/3).

    ``None`` or ``""`` means no quorum. Otherwise an exact fraction ``"p/q"`` with
    ``0 < p/q <= 1`` (a whole ``"1"`` means every eligible voter). Anything else, including
    decimals and floats, is refused: a quorum is never rounded.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RuleError("invalid_quorum", 'quorum is null or a fraction such as "1/2"')
    if value.strip() == "1":
        return Fraction(1)
    match = _QUORUM.fullmatch(value)
    if not match:
        raise RuleError("invalid_quorum", 'quorum is null or a fraction such as "1/2"')
    numerator, denominator = int(match.group(1)), int(match.group(2))
    if denominator == 0 or numerator == 0 or numerator > denominator:
        raise RuleError("invalid_quorum", "a quorum is a share greater than 0 and at most 1")
    return Fraction(numerator, denominator)


def format_quorum(quorum: Fraction | None) -> str | None:
    """The stored and published form of a quorum: ``"p/q"`` in lowest terms, or None."""
    if quorum is None:
        return None
    return f"{quorum.numerator}/{quorum.denominator}"


def clean_options(kind: str, options) -> tuple[str, ...]:
    """Option labels for an option vote: 2–10 distinct, non-empty labels; none otherwise."""
    if kind not in KINDS:
        raise RuleError("invalid_kind", 'kind is "yes_no_abstain" or "options"')
    options = list(options or ())
    if kind == "yes_no_abstain":
        if options:
            raise RuleError("invalid_options", "a yes/no/abstain vote has no options")
        return ()
    if not all(isinstance(label, str) for label in options):
        raise RuleError("invalid_options", "options are a list of labels")
    labels = tuple(label.strip() for label in options)
    if not MIN_OPTIONS <= len(labels) <= MAX_OPTIONS:
        raise RuleError("invalid_options", "an option vote has 2 to 10 options")
    if any(not label or len(label) > MAX_OPTION_LENGTH for label in labels):
        raise RuleError("invalid_options", "each option is 1 to 100 characters")
    if len({label.casefold() for label in labels}) != len(labels):
        raise RuleError("invalid_options", "the options must differ from each other")
    if any(label.casefold() in RESERVED_LABELS for label in labels):
        raise RuleError("invalid_options", "an option cannot be called abstain or a result name")
    return labels


def clean_threshold(kind: str, threshold: str | None) -> str:
    """The threshold: one of four for a motion; plurality (the default) for options."""
    if kind == "options":
        if threshold in (None, "", PLURALITY):
            return PLURALITY
        raise RuleError("invalid_threshold", "an option vote is decided by plurality")
    if threshold in MOTION_THRESHOLDS:
        return threshold
    raise RuleError(
        "invalid_threshold",
        "threshold is simple, majority_cast, majority_eligible or two_thirds",
    )


def make_settings(kind, options=(), threshold=None, quorum=None) -> Settings:
    """Checked settings for a new vote, or :class:`RuleError` naming what is wrong."""
    if kind not in KINDS:
        raise RuleError("invalid_kind", 'kind is "yes_no_abstain" or "options"')
    labels = clean_options(kind, options)
    return Settings(
        kind=kind,
        options=labels,
        threshold=clean_threshold(kind, threshold),
        quorum=parse_quorum(quorum),
    )


# --- quorum ----------------------------------------------------------------------------------


def ballots_needed(quorum: Fraction | None, eligible: int) -> int:
    """The smallest number of ballots that meets the quorum (0 without a quorum)."""
    if quorum is None:
        return 0
    return ceil(quorum * eligible)


def quorum_met(quorum: Fraction | None, ballots_cast: int, eligible: int) -> bool:
    """Quorum: met when ballots cast ≥ share × eligible; always met when there is none."""
    if quorum is None:
        return True
    return ballots_cast >= quorum * eligible


# --- thresholds for a motion -----------------------------------------------------------------


def passes_simple(yes: int, no: int, abstain: int, eligible: int) -> bool:
    """simple: more yes than no (abstentions do not count)."""
    return yes > no


def passes_majority_cast(yes: int, no: int, abstain: int, eligible: int) -> bool:
    """majority_cast: yes > half of all ballots, abstentions included."""
    return yes > Fraction(yes + no + abstain, 2)


def passes_majority_eligible(yes: int, no: int, abstain: int, eligible: int) -> bool:
    """majority_eligible: yes > half of eligible voters (whether they voted or not)."""
    return yes > Fraction(eligible, 2)


def passes_two_thirds(yes: int, no: int, abstain: int, eligible: int) -> bool:
    """two_thirds: yes ≥ 2/3 of ballots cast (abstentions included).

    With no ballots cast nothing is adopted (0 ≥ 2/3 × 0 would hold vacuously).
    """
    cast = yes + no + abstain
    return cast > 0 and yes >= Fraction(2, 3) * cast


PASSES = {
    SIMPLE: passes_simple,
    MAJORITY_CAST: passes_majority_cast,
    MAJORITY_ELIGIBLE: passes_majority_eligible,
    TWO_THIRDS: passes_two_thirds,
}


# --- options ---------------------------------------------------------------------------------


def plurality(counts: Mapping[str, int], options: Sequence[str]) -> str:
    """plurality: the option with the most votes wins; a tie for first place is a tie.

    Abstentions are not votes for any option. With no votes for any option every option is
    tied at zero, so the result is a tie.
    """
    best = max(counts.get(label, 0) for label in options)
    leaders = [label for label in options if counts.get(label, 0) == best]
    return leaders[0] if len(leaders) == 1 else TIE


# --- the result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What closing a vote produces: turnout, quorum, the result."""

    result: str
    ballots_cast: int
    eligible: int
    quorum_met: bool
    ballots_needed: int

    @property
    def adopted(self) -> bool:
        return self.result == ADOPTED


def decide(settings: Settings, counts: Mapping[str, int], eligible: int) -> Decision:
    """The result: ``no_quorum`` if too few voted; else ``adopted`` or ``rejected`` by the
    threshold for a motion, or the winning option label (or ``tie``) for an option vote."""
    unknown = set(counts) - set(settings.choices)
    if unknown:
        raise RuleError("invalid_choice", f"not a choice of this vote: {sorted(unknown)}")
    if any(n < 0 for n in counts.values()):
        raise RuleError("invalid_count", "counts cannot be negative")
    cast = sum(counts.values())
    met = quorum_met(settings.quorum, cast, eligible)
    needed = ballots_needed(settings.quorum, eligible)
    if not met:
        result = NO_QUORUM
    elif settings.kind == "options":
        result = plurality(counts, settings.options)
    else:
        passes = PASSES[settings.threshold]
        yes, no, abstain = (counts.get(c, 0) for c in YES_NO_ABSTAIN)
        result = ADOPTED if passes(yes, no, abstain, eligible) else REJECTED
    return Decision(
        result=result, ballots_cast=cast, eligible=eligible, quorum_met=met, ballots_needed=needed
    )


def carried_choices(settings: Settings, result: str) -> frozenset[str]:
    """The choices that carried: ``yes`` when adopted, ``no`` whenever the motion is not
    adopted (rejected or without quorum); for options only the winning one (none on a tie
    or without quorum). Abstentions never carry."""
    if settings.kind == "options":
        return frozenset({result}) if result in settings.options else frozenset()
    return frozenset({YES}) if result == ADOPTED else frozenset({NO})


def losing_choices(settings: Settings, result: str) -> frozenset[str]:
    """The losing side: every choice that did not carry, and abstentions."""
    return frozenset(settings.choices) - carried_choices(settings, result)
