// Reads a refusal that may be absent.
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { contract } from "../contract.js";
const client = createClient("ws://127.0.0.1:1/ws", { contract, headers: { name: "a" }, WebSocket });
client.onClose((info) => console.log(info.refusal.status));
