// Passes something that is not a WebSocket class.
import { createClient } from "zocket-rs";
import { contract } from "../contract.js";
createClient("ws://127.0.0.1:1/ws", { contract, headers: { name: "a" }, WebSocket: Date });
