// Expects another answer type.
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { contract } from "../contract.js";
const client = createClient("ws://127.0.0.1:1/ws", { contract, headers: { name: "a" }, WebSocket });
export async function f(): Promise<void> {
  const answer: { rooms: number[] } = await client.request("chat.rooms", null);
  console.log(answer);
}
