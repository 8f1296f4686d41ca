"""The rules of procedure in ``voting/``, at every boundary."""

from fractions import Fraction

import pytest

from voting import (
    ABSTAIN,
    ADOPTED,
    NO,
    NO_QUORUM,
    REJECTED,
    TIE,
    YES,
    CastBallot,
    RuleError,
    Settings,
    ballots_needed,
    compile_minority_opinions,
    decide,
    freeze,
    is_eligible,
    losing_choices,
    make_settings,
    new_receipt,
    parse_quorum,
    plurality,
    published_receipts,
    quorum_met,
    tally,
    with_floor_opinions,
)
from voting.receipts import is_receipt
from voting.rules import (
    passes_majority_cast,
    passes_majority_eligible,
    passes_simple,
    passes_two_thirds,
)


def motion(threshold="simple", quorum=None):
    return make_settings("yes_no_abstain", (), threshold, quorum)


def result(settings, yes=0, no=0, abstain=0, eligible=10):
    return decide(settings, {YES: yes, NO: no, ABSTAIN: abstain}, eligible).result


# --- quorum ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1/2", Fraction(1, 2)), ("2/3", Fraction(2, 3)), (" 2 / 4 ", Fraction(1, 2)),
     ("1", Fraction(1)), ("3/3", Fraction(1)), (None, None), ("", None)],
)  # fmt: skip
def test_quorum_is_parsed_exactly(text, expected):
    assert parse_quorum(text) == expected


@pytest.mark.parametrize(
    "bad", ["0/2", "3/2", "1/0", "0.5", "half", "-1/2", "1/2/3", 0.5, 1, ["1/2"], "99999/100000"]
)
def test_bad_quorum_is_refused(bad):
    with pytest.raises(RuleError) as info:
        parse_quorum(bad)
    assert info.value.code == "invalid_quorum"


def test_quorum_exactly_met_and_one_short():
    half = Fraction(1, 2)
    assert quorum_met(half, 5, 10) is True  # exactly half of 10
    assert quorum_met(half, 4, 10) is False  # one short
    assert quorum_met(half, 4, 7) is True  # 3.5 needed → 4
    assert quorum_met(half, 3, 7) is False
    two_thirds = Fraction(2, 3)
    assert quorum_met(two_thirds, 6, 9) is True  # exactly two thirds
    assert quorum_met(two_thirds, 5, 9) is False
    assert quorum_met(two_thirds, 7, 10) is True  # 6.67 needed → 7
    assert quorum_met(two_thirds, 6, 10) is False  # a float 0.6666 × 10 would not tell
    assert ballots_needed(two_thirds, 10) == 7
    assert ballots_needed(half, 7) == 4
    assert ballots_needed(None, 7) == 0


def test_no_quorum_setting_is_always_met():
    assert quorum_met(None, 0, 100) is True


def test_quorum_with_no_eligible_voters():
    assert quorum_met(Fraction(1, 2), 0, 0) is True
    assert result(motion(quorum="1/2"), eligible=0) == REJECTED  # nothing to adopt it


def test_result_without_quorum():
    settings = motion("simple", "1/2")
    assert result(settings, yes=4, eligible=10) == NO_QUORUM
    assert result(settings, yes=5, eligible=10) == ADOPTED
    assert result(settings, yes=2, no=2, abstain=1, eligible=10) == REJECTED


def test_zero_ballots_with_quorum():
    assert result(motion("majority_cast", "1/3"), eligible=3) == NO_QUORUM


# --- thresholds --------------------------------------------------------------------------


def test_simple_more_yes_than_no():
    assert passes_simple(3, 2, 10, 20)
    assert not passes_simple(2, 2, 0, 20)  # a tie is not more
    assert not passes_simple(0, 0, 5, 20)
    assert result(motion(), yes=1, no=0, abstain=8) == ADOPTED  # abstentions do not count


def test_majority_cast_at_exactly_half():
    # yes must be MORE than half of all ballots, abstentions included
    assert not passes_majority_cast(5, 0, 5, 20)  # exactly half
    assert passes_majority_cast(6, 0, 5, 20)
    assert not passes_majority_cast(5, 4, 1, 20)  # 5 of 10
    assert passes_majority_cast(3, 2, 0, 20)  # 3 of 5
    assert not passes_majority_cast(0, 0, 0, 20)  # zero ballots
    assert result(motion("majority_cast"), yes=5, no=4, abstain=1) == REJECTED
    assert result(motion("simple"), yes=5, no=4, abstain=1) == ADOPTED  # the rules differ


def test_majority_eligible_at_exactly_half():
    assert not passes_majority_eligible(5, 0, 0, 10)  # exactly half of eligible
    assert passes_majority_eligible(6, 0, 0, 10)
    assert passes_majority_eligible(4, 0, 0, 7)  # 4 > 3.5
    assert not passes_majority_eligible(3, 0, 0, 7)
    assert not passes_majority_eligible(0, 0, 0, 0)
    assert result(motion("majority_eligible"), yes=5, no=0, eligible=10) == REJECTED


def test_two_thirds_at_exactly_two_thirds():
    assert passes_two_thirds(2, 1, 0, 10)  # exactly two thirds
    assert passes_two_thirds(6, 2, 1, 10)  # 6 of 9
    assert not passes_two_thirds(5, 2, 1, 10)  # 5 of 8 < 2/3
    assert not passes_two_thirds(6, 3, 1, 10)  # 6 of 10
    assert passes_two_thirds(20, 10, 0, 30)  # exactly two thirds of 30
    assert not passes_two_thirds(19, 10, 0, 30)
    assert not passes_two_thirds(0, 0, 0, 10)  # zero ballots adopt nothing
    assert result(motion("two_thirds"), yes=2, no=1) == ADOPTED


def test_zero_ballots_adopt_nothing_under_any_threshold():
    for threshold in ("simple", "majority_cast", "majority_eligible", "two_thirds"):
        assert result(motion(threshold), eligible=5) == REJECTED


# --- options ------------------------------------------------------------------------------


def test_plurality_winner_and_ties():
    options = ("Square", "Bicycle shed", "Garden")
    assert plurality({"Square": 3, "Bicycle shed": 2, "Garden": 0}, options) == "Square"
    assert plurality({"Square": 3, "Bicycle shed": 3, "Garden": 1}, options) == TIE
    assert plurality({"Square": 0, "Bicycle shed": 0, "Garden": 0}, options) == TIE  # none
    settings = make_settings("options", list(options), None, None)
    counts = {"Square": 1, "Bicycle shed": 1, "Garden": 0, ABSTAIN: 5}
    assert decide(settings, counts, 10).result == TIE  # abstentions vote for no option
    counts = {"Square": 1, "Bicycle shed": 2, "Garden": 0, ABSTAIN: 5}
    assert decide(settings, counts, 10).result == "Bicycle shed"


def test_option_vote_quorum():
    settings = make_settings("options", ["A", "B"], "plurality", "1/2")
    assert decide(settings, {"A": 2, "B": 1, ABSTAIN: 1}, 9).result == NO_QUORUM
    assert decide(settings, {"A": 2, "B": 1, ABSTAIN: 2}, 9).result == "A"


@pytest.mark.parametrize(
    ("kind", "options", "threshold", "code"),
    [
        ("ranked", (), "simple", "invalid_kind"),
        ("options", ["only one"], None, "invalid_options"),
        ("options", [f"o{n}" for n in range(11)], None, "invalid_options"),
        ("options", ["A", "a"], None, "invalid_options"),
        ("options", ["A", ""], None, "invalid_options"),
        ("options", ["A", "abstain"], None, "invalid_options"),
        ("options", ["A", "x" * 101], None, "invalid_options"),
        ("options", ["A", 3], None, "invalid_options"),
        ("yes_no_abstain", ["A", "B"], "simple", "invalid_options"),
        ("yes_no_abstain", (), "plurality", "invalid_threshold"),
        ("yes_no_abstain", (), "most", "invalid_threshold"),
        ("yes_no_abstain", (), None, "invalid_threshold"),
        ("options", ["A", "B"], "simple", "invalid_threshold"),
    ],
)
def test_bad_settings_are_refused(kind, options, threshold, code):
    with pytest.raises(RuleError) as info:
        make_settings(kind, options, threshold, None)
    assert info.value.code == code


def test_ten_options_are_allowed():
    settings = make_settings("options", [f"Plan {n}" for n in range(10)], None, "2/3")
    assert len(settings.options) == 10
    assert settings.threshold == "plurality"
    assert settings.quorum == Fraction(2, 3)
    assert settings.choices[-1] == ABSTAIN


# --- tally --------------------------------------------------------------------------------


def test_tally_lists_every_choice():
    assert tally((YES, NO, ABSTAIN), [YES, YES, ABSTAIN]) == {YES: 2, NO: 0, ABSTAIN: 1}
    assert tally((YES, NO, ABSTAIN), []) == {YES: 0, NO: 0, ABSTAIN: 0}
    with pytest.raises(RuleError):
        tally((YES, NO, ABSTAIN), ["maybe"])


def test_decide_refuses_unknown_choices():
    with pytest.raises(RuleError):
        decide(motion(), {"maybe": 1}, 3)


# --- eligibility ----------------------------------------------------------------------------


def test_eligibility_is_voters_and_chair_frozen():
    participants = [(5, "voter"), (1, "chair"), (7, "speaker"), (3, "observer"), (4, "secretary")]
    frozen = freeze(participants)
    assert frozen == (1, 5)
    assert is_eligible(frozen, 5)
    assert not is_eligible(frozen, 7)
    participants.append((7, "voter"))  # a role given after opening changes nothing
    assert not is_eligible(frozen, 7)


# --- minority opinions -------------------------------------------------------------------


def ballots():
    return [
        CastBallot(YES, "Good for children", "alice"),
        CastBallot(NO, "Too expensive", "bob"),
        CastBallot(NO, "", "carol"),
        CastBallot(ABSTAIN, "I live elsewhere", "dave"),
        CastBallot(YES, None, "erin"),
    ]


def test_minority_when_adopted_is_no_and_abstain_named_in_open_ballot():
    opinions = compile_minority_opinions(motion(), ADOPTED, ballots(), secret=False)
    assert opinions == [
        {"text": "Too expensive", "choice": NO, "source": "ballot", "author": "bob"},
        {"text": "I live elsewhere", "choice": ABSTAIN, "source": "ballot", "author": "dave"},
    ]


def test_minority_when_rejected_is_yes_and_abstain_anonymous_in_secret_ballot():
    opinions = compile_minority_opinions(motion(), REJECTED, ballots(), secret=True)
    assert opinions == [
        {"text": "Good for children", "choice": YES, "source": "ballot", "author": None},
        {"text": "I live elsewhere", "choice": ABSTAIN, "source": "ballot", "author": None},
    ]


def test_minority_without_quorum_keeps_the_supporters_reasons():
    assert losing_choices(motion(), NO_QUORUM) == {YES, ABSTAIN}


def test_minority_in_option_votes():
    settings = make_settings("options", ["A", "B", "C"], None, None)
    cast = [CastBallot("A", "a!", "u1"), CastBallot("B", "b!", "u2"), CastBallot("C", "", "u3")]
    assert [o["text"] for o in compile_minority_opinions(settings, "A", cast, False)] == ["b!"]
    # a tie carries no option, so every reason is kept
    assert len(compile_minority_opinions(settings, TIE, cast, False)) == 2


def test_floor_opinions_are_added_not_merged():
    from_ballots = compile_minority_opinions(motion(), ADOPTED, ballots(), secret=False)
    floor = [{"text": "The property company disagrees", "author": "pm", "source": "floor"},
             {"text": "   ", "author": "x"}]  # fmt: skip
    opinions = with_floor_opinions(from_ballots, floor)
    assert opinions[-1] == {
        "text": "The property company disagrees", "choice": None, "source": "floor", "author": "pm"
    }  # fmt: skip
    assert len(opinions) == 3


def test_settings_default_choices():
    assert Settings().choices == (YES, NO, ABSTAIN)


# --- receipts ----------------------------------------------------------------------------


def test_receipts_are_random_and_published_sorted():
    codes = {new_receipt() for _ in range(500)}
    assert len(codes) == 500
    assert all(is_receipt(code) for code in codes)
    published = published_receipts([("ZZZZ-2222-2222", NO), ("AAAA-2222-2222", YES)])
    assert published == [
        {"receipt": "AAAA-2222-2222", "choice": YES},
        {"receipt": "ZZZZ-2222-2222", "choice": NO},
    ]
