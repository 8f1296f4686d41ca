"""Yiting's Socket.IO packets (orjson, a faster binary check) say what python-socketio's own
say: the same type, and text that reads back as the same data."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from socketio.packet import Packet as StockPacket

from consult.core.sockets import Packet

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5),
    st.binary(max_size=3), st.builds(bytearray, st.binary(max_size=3)),
)  # fmt: skip
payloads = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=3), inner, max_size=4),
        st.tuples(inner, inner),
    ),
    max_leaves=30,
)


@given(payloads)
def test_binary_check_agrees_with_python_socketio(data):
    assert Packet.data_is_binary(data) == StockPacket.data_is_binary(data)


def test_a_join_answer_is_text_and_bytes_anywhere_are_found():
    answer = {"participants": [{"username": "alice", "online": True, "n": 1.5}] * 3}
    assert Packet.data_is_binary(answer) is False
    assert Packet.data_is_binary({"a": [1, {"b": b"x"}]}) is True
    assert Packet(data={"a": [1, {"b": b"x"}]}).packet_type == 5  # BINARY_EVENT


def _read(encoded):
    """What a client reads: the packet type and the data (attachments put back)."""
    if isinstance(encoded, list):
        first = StockPacket(encoded_packet=encoded[0])
        for attachment in encoded[1:]:
            first.add_attachment(attachment)
        return first.packet_type, first.data
    read = StockPacket(encoded_packet=encoded)
    return read.packet_type, read.data


@given(st.lists(payloads, max_size=4), st.sampled_from([2, 3]), st.none() | st.integers(0, 10**6))
def test_encoded_packets_read_as_python_socketios_own(data, packet_type, ack_id):
    """An event's or an answer's data is a list: the event's name (or nothing) and its
    arguments. (Infinity is left out: the standard library writes it as ``Infinity``, which
    no browser reads; orjson writes ``null``.)"""
    ours = Packet(packet_type, data=data, id=ack_id)
    stock = StockPacket(packet_type, data=data, id=ack_id)
    assert ours.packet_type == stock.packet_type
    try:
        expected = _read(stock.encode())
    except TypeError:  # bytes inside a tuple: python-socketio cannot send it either
        with pytest.raises(TypeError):
            ours.encode()
        return
    assert _read(ours.encode()) == expected


def test_text_orjson_refuses_is_still_sent():
    for data in [["event", "\ud800 lone surrogate"], {1: "a key that is a number"}, [2**70]]:
        assert _read(Packet(data=data).encode()) == _read(StockPacket(data=data).encode())
    assert Packet(data=["said", "议厅 ✓"]).encode() == '2["said","议厅 ✓"]'
