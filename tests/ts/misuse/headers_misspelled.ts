// A misspelled handshake field (the handshake type always applies).
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { contract } from "../contract.js";
createClient("ws://127.0.0.1:1/ws", { contract, headers: { nmae: "x" }, WebSocket });
