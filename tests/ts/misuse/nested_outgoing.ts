// The nested form, with an outgoing route.
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { contract } from "../contract.js";
const client = createClient("ws://127.0.0.1:1/ws", { contract, headers: { name: "a" }, WebSocket });
client.send.chat.onJoin({ room: "x" });
