// No contract: the client has no type to take.
import WebSocket from "ws";
import { createClient } from "zocket-rs";
createClient("ws://127.0.0.1:1/ws", { WebSocket });
