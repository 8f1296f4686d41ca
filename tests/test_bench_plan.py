"""How many messages each of the benchmark's fan-outs sends, and in how many rounds."""

from types import SimpleNamespace

from bench.run import messages_for, rounds_for


def plan(size: int, quick: bool = False, messages: int | None = None) -> tuple[int, int]:
    args = SimpleNamespace(quick=quick, messages=messages, rounds=3)
    sent = messages_for(args, size)
    return sent, rounds_for(args, sent)


def test_a_room_of_100_is_one_round_whose_slowest_hundredth_spans_three_messages():
    # 300 messages to 100 clients: the slowest 1% of 30,000 deliveries is three messages'
    assert plan(100) == (300, 1)
    # larger rooms: 20 messages, in three rounds taken in turn with the bare server's
    assert plan(500) == (20, 3)
    assert plan(1000) == (20, 3)


def test_the_quick_run_keeps_its_small_fan_outs():
    assert plan(10, quick=True) == (100, 1)
    assert plan(50, quick=True) == (20, 3)


def test_a_number_of_messages_given_is_sent_as_given():
    assert plan(100, messages=40) == (40, 3)
    assert plan(1000, messages=150) == (150, 1)
