// Answers on a route the client asks, not the server.
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { contract } from "../contract.js";
const client = createClient("ws://127.0.0.1:1/ws", { contract, headers: { name: "a" }, WebSocket });
client.onRequest("chat.rooms", () => ({ rooms: [] }));
