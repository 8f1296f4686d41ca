"""Ballots and their rules (表决规则): who may vote, what counts as a quorum, which threshold
passes, how ties and abstentions count, and which reasons become minority opinions.

Plain Python with no web framework, so it can be read like the rules of procedure it encodes
and tested exhaustively. Start with :mod:`voting.rules`.
"""

from .eligibility import VOTING_ROLES, freeze, has_vote, is_eligible
from .minority import CastBallot, compile_minority_opinions, with_floor_opinions
from .receipts import new_receipt, published_receipts
from .rules import (
    ABSTAIN,
    ADOPTED,
    KINDS,
    MOTION_THRESHOLDS,
    NO,
    NO_QUORUM,
    PLURALITY,
    REJECTED,
    THRESHOLDS,
    TIE,
    YES,
    YES_NO_ABSTAIN,
    Decision,
    RuleError,
    Settings,
    ballots_needed,
    carried_choices,
    choices_for,
    decide,
    format_quorum,
    losing_choices,
    make_settings,
    parse_quorum,
    plurality,
    quorum_met,
)
from .tally import tally

__all__ = [
    "ABSTAIN", "ADOPTED", "KINDS", "MOTION_THRESHOLDS", "NO", "NO_QUORUM", "PLURALITY",
    "REJECTED", "THRESHOLDS", "TIE", "VOTING_ROLES", "YES", "YES_NO_ABSTAIN", "CastBallot",
    "Decision", "RuleError", "Settings", "ballots_needed", "carried_choices", "choices_for",
    "compile_minority_opinions", "decide", "format_quorum", "freeze", "has_vote", "is_eligible",
    "losing_choices", "make_settings", "new_receipt", "parse_quorum", "plurality",
    "published_receipts", "quorum_met", "tally", "with_floor_opinions",
]  # fmt: skip
