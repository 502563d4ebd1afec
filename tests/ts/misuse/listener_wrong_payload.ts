// A listener for another route's payload.
import type { TypingState } from "../contract.js";
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { contract } from "../contract.js";
const client = createClient("ws://127.0.0.1:1/ws", { contract, headers: { name: "a" }, WebSocket });
client.on("chat.onMessage", (m: TypingState) => m.typing);
