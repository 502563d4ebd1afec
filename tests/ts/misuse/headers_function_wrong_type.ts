// The function form of the handshake, returning a field of the wrong type.
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { contract } from "../contract.js";
createClient("ws://127.0.0.1:1/ws", { contract, headers: () => ({ name: 42 }), WebSocket });
