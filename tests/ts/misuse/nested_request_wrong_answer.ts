// The nested form of a request, expecting another answer type.
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { contract } from "../contract.js";
const client = createClient("ws://127.0.0.1:1/ws", { contract, headers: { name: "a" }, WebSocket });
export async function f(): Promise<void> {
  const n: number = await client.request.chat.who({ room: "x" });
  console.log(n);
}
