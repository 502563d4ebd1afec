// Uses every route of the chat example's contract correctly: must type-check.
import { createClient } from "./client.js";
import { type ChatMessage, type MyRooms, type Routes, contract } from "./contract.js";

export async function main(): Promise<void> {
  const client = createClient<Routes>("ws://127.0.0.1:1/ws", { headers: { name: "alice" }, contract });
  client.send("chat.join", { room: "lobby" });
  client.send("chat.leave", { room: "lobby" });
  client.send("chat.send", { room: "lobby", text: "hi" });
  client.send("chat.typing", { room: "lobby", typing: true });
  const off = client.on("chat.onMessage", (m: ChatMessage) => console.log(m.text.toUpperCase(), m.clientId));
  client.on("chat.onJoin", (m) => m.name.length);
  client.on("chat.onLeave", (m) => m.room.length);
  client.on("chat.onTyping", (m) => m.typing === true);
  off();
  const rooms: MyRooms = await client.request("chat.rooms", null);
  rooms.rooms.map((r) => r.toUpperCase());
  // The nested form of the original Zocket client.
  client.send.chat.send({ room: "lobby", text: "nested" });
  client.on.chat.onMessage((m) => m.text.length);
  const again = await client.request.chat.rooms(null);
  console.log(again.rooms.length);
  client.onError((e) => e.kind);
  client.close();
}
