// No handshake values, though the contract's handshake has a required field.
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { contract } from "../contract.js";
createClient("ws://127.0.0.1:1/ws", { contract, WebSocket });
