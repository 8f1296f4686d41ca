"""The benchmark's own room client (``bench/client.py``): its packets, and a conversation
with a real python-socketio server (the benchmark's bare server) and with Yiting's."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest
import requests

from bench.client import ConnectionRefused, RoomClient, decode, encode
from bench.run import Server


def test_packets_are_read_as_python_socketio_writes_them():
    assert decode('2["message:new",{"body":"路灯"}]') == (
        "2",
        None,
        ["message:new", {"body": "路灯"}],
    )
    assert decode('312[{"ok":true}]') == ("3", 12, [{"ok": True}])
    assert decode('3[{"ok":true}]') == ("3", None, [{"ok": True}])
    assert decode('0{"sid":"abc"}') == ("0", None, {"sid": "abc"})
    assert decode('4{"message":"no"}') == ("4", None, {"message": "no"})
    assert decode("1") == ("1", None, None)


def test_packets_are_written_as_python_socketio_reads_them():
    from socketio import packet

    frame = encode("2", ["ballot:cast", {"vote_id": 7, "choice": "yes"}], 31)
    assert frame[0] == "4"  # Engine.IO's message
    read = packet.Packet(encoded_packet=frame[1:])
    assert (read.packet_type, read.id, read.data) == (
        packet.EVENT,
        31,
        ["ballot:cast", {"vote_id": 7, "choice": "yes"}],
    )
    read = packet.Packet(encoded_packet=encode("0", {"token": "t"})[1:])
    assert (read.packet_type, read.data) == (packet.CONNECT, {"token": "t"})
    assert encode("1", None) == "41"


def run(coroutine):
    """``asyncio.run`` in a thread of its own: a browser test's Playwright keeps an event loop
    running in the test's thread for the rest of the session."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


@pytest.fixture
def bare_server(tmp_path):
    with Server("bench/bare_server.py", "eventlet", {}, tmp_path / "bare.log") as server:
        yield server.process, server.url


@pytest.mark.live
def test_a_room_conversation_with_a_python_socketio_server(bare_server):
    process, url = bare_server

    async def conversation():
        async with aiohttp.ClientSession() as session:
            sender, listener = RoomClient(session), RoomClient(session)
            heard, ended = [], []
            listener.on("message:new", heard.append)
            sender.on_disconnect = listener.on_disconnect = ended.append
            for client in (sender, listener):
                await client.connect(url)
                assert await client.call("room:join", {"consultation_id": 3}) == {
                    "ok": True, "messages": []
                }  # fmt: skip
            answer = await sender.call(
                "message:send", {"consultation_id": 3, "body": "bench:1", "client_id": "a"}
            )
            assert answer["ok"] and answer["message"]["html"] == "<p>bench:1</p>"
            await sender.emit(
                "message:send", {"consultation_id": 3, "body": "bench:2", "client_id": "b"}
            )
            async with asyncio.timeout(10):
                while len(heard) < 2:
                    await asyncio.sleep(0.01)
            assert [m["body"] for m in heard] == ["bench:1", "bench:2"]
            await sender.disconnect()
            assert ended == []  # leaving is not a drop
            # The server goes away: the listener says so, and a call waiting is answered.
            waiting = asyncio.create_task(listener.call("no:such", {}, timeout=30))
            process.kill()
            with pytest.raises((ConnectionError, TimeoutError)):
                await waiting
            async with asyncio.timeout(10):
                while not ended:
                    await asyncio.sleep(0.01)
            assert len(ended) == 1 and ended[0]

    run(conversation())


@pytest.mark.live
def test_a_conversation_with_yiting(demo_server):
    token = demo_server.token("alice")
    room = requests.get(
        demo_server.url + "/api/v1/communities/demo/consultations",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()["consultations"][0]["id"]

    async def conversation():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(ConnectionRefused) as refusal:
                await RoomClient(session).connect(demo_server.url, auth={"token": "no-such"})
            client = RoomClient(session)
            heard = []
            client.on("message:new", heard.append)
            await client.connect(demo_server.url, auth={"token": token})
            joined = await client.call("room:join", {"consultation_id": room})
            assert joined["ok"], joined
            answer = await client.call(
                "message:send", {"consultation_id": room, "body": "bench:路灯", "client_id": "c1"}
            )
            assert answer["ok"] and answer["message"]["body"] == "bench:路灯", answer
            async with asyncio.timeout(10):
                while not heard:
                    await asyncio.sleep(0.01)
            assert heard[0]["id"] == answer["message"]["id"]
            await client.disconnect()
            return refusal.value.args[0]

    refused = run(conversation())
    assert refused["data"]["code"] == "invalid_token"
