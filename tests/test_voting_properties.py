"""Property tests for the tally invariants of ``voting/``."""

from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from voting import (
    ABSTAIN,
    ADOPTED,
    MOTION_THRESHOLDS,
    NO,
    NO_QUORUM,
    TIE,
    YES,
    CastBallot,
    compile_minority_opinions,
    decide,
    make_settings,
    new_receipt,
    published_receipts,
    quorum_met,
    tally,
)

quorums = st.sampled_from([None, "1/2", "2/3", "1/3", "3/4", "1"])
thresholds = st.sampled_from(MOTION_THRESHOLDS)
labels = st.lists(
    st.text(alphabet="ABCDEFGHIJ", min_size=1, max_size=3), min_size=2, max_size=10, unique=True
)


@st.composite
def motion_votes(draw):
    """A yes/no/abstain vote: settings, eligible voters and the choices cast."""
    eligible = draw(st.integers(min_value=0, max_value=60))
    cast = draw(st.lists(st.sampled_from([YES, NO, ABSTAIN]), max_size=eligible))
    rules = make_settings("yes_no_abstain", (), draw(thresholds), draw(quorums))
    return rules, eligible, cast


@st.composite
def option_votes(draw):
    options = draw(labels)
    eligible = draw(st.integers(min_value=0, max_value=60))
    cast = draw(st.lists(st.sampled_from([*options, ABSTAIN]), max_size=eligible))
    rules = make_settings("options", options, None, draw(quorums))
    return rules, eligible, cast


@given(st.one_of(motion_votes(), option_votes()))
def test_counts_always_sum_to_ballots_cast(vote):
    rules, eligible, cast = vote
    counts = tally(rules.choices, cast)
    decision = decide(rules, counts, eligible)
    assert sum(counts.values()) == len(cast) == decision.ballots_cast
    assert set(counts) == set(rules.choices)
    assert all(n >= 0 for n in counts.values())


@given(motion_votes())
def test_adding_a_yes_never_turns_adopted_into_rejected(vote):
    rules, eligible, cast = vote
    assume(len(cast) < eligible)  # room for one more voter
    before = decide(rules, tally(rules.choices, cast), eligible).result
    after = decide(rules, tally(rules.choices, [*cast, YES]), eligible).result
    if before == ADOPTED:
        assert after == ADOPTED


@given(motion_votes())
def test_changing_a_no_to_yes_never_turns_adopted_into_rejected(vote):
    rules, eligible, cast = vote
    assume(NO in cast)
    changed = list(cast)
    changed[changed.index(NO)] = YES
    if decide(rules, tally(rules.choices, cast), eligible).result == ADOPTED:
        assert decide(rules, tally(rules.choices, changed), eligible).result == ADOPTED


@given(motion_votes())
def test_results_are_one_of_the_named_outcomes(vote):
    rules, eligible, cast = vote
    decision = decide(rules, tally(rules.choices, cast), eligible)
    assert decision.result in {"adopted", "rejected", "no_quorum"}
    assert (decision.result == NO_QUORUM) == (not decision.quorum_met)


@given(option_votes())
def test_option_results_name_a_winner_or_a_tie(vote):
    rules, eligible, cast = vote
    counts = tally(rules.choices, cast)
    decision = decide(rules, counts, eligible)
    if decision.result not in (TIE, NO_QUORUM):
        winner = decision.result
        assert winner in rules.options
        assert all(counts[winner] > counts[o] for o in rules.options if o != winner)
    elif decision.result == TIE:
        best = max(counts[o] for o in rules.options)
        assert sum(counts[o] == best for o in rules.options) >= 2


@given(st.integers(0, 500), st.integers(0, 500), st.sampled_from(["1/2", "2/3", "3/5", "1"]))
def test_quorum_is_exact(cast, eligible, share):
    q = Fraction(share) if "/" not in share else Fraction(*map(int, share.split("/")))
    # integer arithmetic: cast × q.denominator ≥ q.numerator × eligible
    assert quorum_met(q, cast, eligible) == (cast * q.denominator >= q.numerator * eligible)


voters = st.lists(st.integers(1, 10_000), min_size=1, max_size=30, unique=True)


@settings(max_examples=60)
@given(voters, st.data())
def test_secret_publication_never_links_a_receipt_to_a_user(ids, data):
    """What a secret vote publishes (receipts, minority opinions) is a function of the
    ballots alone: the same ballots cast by other people, in another order, publish
    exactly the same data, and no voter's id appears in it."""
    rules = make_settings("yes_no_abstain", (), "simple", None)
    ballots = [
        (
            data.draw(st.sampled_from([YES, NO, ABSTAIN])),
            data.draw(st.sampled_from(["", "too costly", "noise at night"])),
            new_receipt(),
        )
        for _ in ids
    ]

    def publish(assignment):
        # each voter casts one of the ballots; the secret record keeps no voter at all
        stored = [(choice, reason, receipt) for _voter, (choice, reason, receipt) in assignment]
        counts = tally(rules.choices, [choice for choice, _r, _c in stored])
        result = decide(rules, counts, len(ids)).result
        return {
            "counts": counts,
            "result": result,
            "receipts": published_receipts([(receipt, choice) for choice, _r, receipt in stored]),
            "minority_opinions": compile_minority_opinions(
                rules, result, [CastBallot(c, r, None) for c, r, _x in stored], secret=True
            ),
        }

    first = publish(list(zip(ids, ballots, strict=True)))
    others = data.draw(st.permutations(ids))
    order = data.draw(st.permutations(list(zip(others, ballots, strict=True))))
    assert publish(order) == first
    text = repr(first)
    for voter in ids:
        assert f"'{voter}'" not in text and f"voter={voter}" not in text
    assert all(o["author"] is None for o in first["minority_opinions"])
