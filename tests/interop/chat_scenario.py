"""Drives the chat example with Python's `websockets` package: a client nobody
on this project wrote. Usage: chat_scenario.py HOST:PORT. Exits non-zero on any
unexpected reply."""

import asyncio
import json
import sys

import websockets
from websockets.exceptions import InvalidStatus

ADDR = sys.argv[1]
URL = f"ws://{ADDR}/ws"
TIMEOUT = 10


async def recv(ws):
    # This client does not show presence: like any client, it ignores the
    # routes it does not use (here the presence diffs).
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if msg.get("type") != "chat.onPresence":
            return msg


async def expect(ws, msg_type, **fields):
    msg = await recv(ws)
    assert msg["type"] == msg_type, f"expected {msg_type}, got {msg}"
    for key, value in fields.items():
        assert msg["payload"][key] == value, f"{key}: expected {value!r}, got {msg}"
    return msg["payload"]


async def send(ws, route, payload):
    await ws.send(json.dumps({"type": route, "payload": payload}))


async def refused(url, **kwargs):
    try:
        async with websockets.connect(url, open_timeout=TIMEOUT, **kwargs):
            pass
    except InvalidStatus as e:
        body = json.loads(e.response.body.decode())
        return e.response.status_code, body
    raise AssertionError(f"{url} was accepted")


async def main():
    # Handshakes refused with the documented status and body.
    status, body = await refused(URL)
    assert status == 400 and body["error"] == "Invalid headers", (status, body)
    assert body["details"][0]["path"] == "name", body
    status, body = await refused(URL + "?name=" + "x" * 33)
    assert status == 400 and body["details"][0]["path"] == "name", (status, body)
    # Names are shown to everyone: no control characters, no bidi overrides.
    for bad in ["a%0Ab", "a%1B%5B31mb", "evil%E2%80%AEtxt.exe", "x%E2%81%A6y"]:
        status, body = await refused(URL + "?name=" + bad)
        assert status == 400 and body["details"][0]["path"] == "name", (bad, status, body)
        assert "bidirectional" in body["details"][0]["message"], body
    print("ok: invalid handshakes get 400 with details")

    # alice by query string, bob by header.
    async with websockets.connect(URL + "?name=alice") as alice, websockets.connect(
        URL, additional_headers={"name": "bob"}
    ) as bob:
        await send(alice, "chat.join", {"room": "lobby"})
        me = await expect(alice, "chat.onJoin", room="lobby", name="alice")
        alice_id = me["clientId"]
        assert isinstance(alice_id, str) and alice_id.isdigit(), me

        await send(bob, "chat.join", {"room": "lobby"})
        joined = await expect(alice, "chat.onJoin", room="lobby", name="bob")
        await expect(bob, "chat.onJoin", room="lobby", name="bob", clientId=joined["clientId"])
        bob_id = joined["clientId"]
        print("ok: onJoin reaches the room, joiner included")

        await send(alice, "chat.typing", {"room": "lobby", "typing": True})
        await expect(bob, "chat.onTyping", name="alice", clientId=alice_id, typing=True)
        print("ok: onTyping reaches the others")

        await send(bob, "chat.send", {"room": "lobby", "text": "hello from python"})
        for ws in (alice, bob):
            await expect(ws, "chat.onMessage", name="bob", clientId=bob_id, text="hello from python")
        print("ok: onMessage reaches the room, sender included")

        # Writing to a room one has not joined is rejected by the middleware.
        await send(alice, "chat.send", {"room": "elsewhere", "text": "sneaky"})
        err = await expect(alice, "$zocket.error", kind="rejected", route="chat.send")
        assert "elsewhere" in err["message"], err
        # Typing there means nothing and is dropped without a word (Reject::quiet):
        # the next thing alice hears is about her next message.
        await send(alice, "chat.typing", {"room": "elsewhere", "typing": True})
        # Invalid payloads are reported; the connection keeps working.
        await send(alice, "chat.send", {"room": "lobby", "text": ""})
        err = await expect(alice, "$zocket.error", kind="validation_failed", route="chat.send")
        assert err["details"][0]["path"] == "text", err
        await send(alice, "chat.send", {"room": "lobby"})
        await expect(alice, "$zocket.error", kind="invalid_payload", route="chat.send")
        await ws_send_raw(alice, "not json")
        await expect(alice, "$zocket.error", kind="invalid_json")
        await send(alice, "chat.nope", {})
        await expect(alice, "$zocket.error", kind="unknown_route", route="chat.nope")
        print("ok: rejections and invalid messages are reported to the sender")

        # bob received none of that: his next message is alice's next post.
        await send(alice, "chat.send", {"room": "lobby", "text": "after the errors"})
        await expect(bob, "chat.onMessage", text="after the errors")
        await expect(alice, "chat.onMessage", text="after the errors")
        print("ok: nobody else received anything from rejected messages")

        await bob.close()
        await expect(alice, "chat.onLeave", room="lobby", name="bob", clientId=bob_id)
        print("ok: onLeave reaches the remaining members when a member disconnects")

        await send(alice, "chat.leave", {"room": "lobby"})
        await send(alice, "chat.join", {"room": "lobby"})
        await expect(alice, "chat.onJoin", name="alice")
        print("ok: leave and re-join")
    print("interop scenario passed")


async def ws_send_raw(ws, text):
    await ws.send(text)


asyncio.run(main())
