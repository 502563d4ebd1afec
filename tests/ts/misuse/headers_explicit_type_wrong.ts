// The explicit type argument, with a handshake field of the wrong type.
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { type Contract, contract } from "../contract.js";
createClient<Contract>("ws://127.0.0.1:1/ws", { contract, headers: { name: "a", password: 7 }, WebSocket });
