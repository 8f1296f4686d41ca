"""The faster binary check of Yiting's Socket.IO packets answers as python-socketio's own."""

from hypothesis import given
from hypothesis import strategies as st
from socketio.packet import Packet as StockPacket

from consult.core.sockets import Packet

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
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
