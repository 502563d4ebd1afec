// Uses every route of the chat example's contract correctly, under
// --strict --exactOptionalPropertyTypes --noUncheckedIndexedAccess: must type-check.
import WebSocket from "ws";
import {
  type CloseInfo,
  type ConnectionState,
  type ErrorKind,
  RequestError,
  type ZocketClient,
  type ZocketError,
  createClient,
} from "zocket-rs";
import { type ChatMessage, type Contract, type MyRooms, type PokeReply, contract } from "./contract.js";

export async function main(): Promise<void> {
  // The contract's type is inferred from the `contract` value: no type argument.
  const client = createClient("ws://127.0.0.1:1/ws", { contract, headers: { name: "alice" }, WebSocket });
  const typed: ZocketClient<Contract> = client;
  // The explicit form, the platform's WebSocket, the function form of the handshake.
  const other = createClient<Contract>("ws://127.0.0.1:1/ws", {
    contract,
    headers: async () => ({ name: "bob", password: "secret" }),
    WebSocket: globalThis.WebSocket,
    retryRefused: (r) => r.status === 503,
    ping: { interval: 1000, timeout: 3000 },
    validate: "both",
    reconnect: { minDelay: 100 },
  });
  other.close();
  client.send("chat.join", { room: "lobby" });
  client.send("chat.leave", { room: "lobby" });
  client.send("chat.send", { room: "lobby", text: "hi" });
  client.send("chat.typing", { room: "lobby", typing: true });
  const off = client.on("chat.onMessage", (m: ChatMessage) => console.log(m.text.toUpperCase(), m.clientId));
  client.on("chat.onJoin", (m) => m.name.length);
  client.on("chat.onLeave", (m) => m.room.length);
  client.on("chat.onTyping", (m) => m.typing === true);
  client.on("chat.onPresence", (d) => d.metas.map((m) => m.name));
  off();
  const rooms: MyRooms = await client.request("chat.rooms", null);
  rooms.rooms.map((r) => r.toUpperCase());
  const who = await client.request("chat.who", { room: "lobby" }, { timeout: 500 });
  console.log(Object.keys(who.online));
  const poke: PokeReply = await client.request("chat.poke", { clientId: "1" });
  console.log(poke.reply);
  // The server's question: a typed answer.
  const stop = client.onRequest("chat.poked", async (q) => ({ reply: `hello ${q.name}` }));
  stop();
  // The nested form of the original Zocket client; nested functions are stable.
  client.send.chat.send({ room: "lobby", text: "nested" });
  client.on.chat.onMessage((m) => m.text.length);
  const again = await client.request.chat.rooms(null);
  console.log(again.rooms.length, client.on.chat === client.on.chat);
  // Errors: `kind` is the contract's union, `details` typed.
  client.onError((e: ZocketError<Contract>) => {
    const kind: ErrorKind<Contract> = e.kind;
    if (kind === "validation_failed") console.log(e.details?.map((d) => d.path + d.message));
  });
  try {
    await client.request("chat.rooms", null);
  } catch (e) {
    if (e instanceof RequestError && e.kind === "server") console.log(e.error?.message);
  }
  // Lifecycle.
  const state: ConnectionState = client.state;
  client.onState((s) => s === "refused" && console.log(client.refusal?.status, client.refusal?.details));
  client.onOpen((i) => console.log(i.recovered, i.clientId));
  client.onClose((i: CloseInfo<Contract>) => console.log(i.code, i.reason, i.refusal?.status, i.willReconnect));
  await client.opened().catch(() => {});
  console.log(state, typed.recovered, client.clientId);
  client.reconnect();
  client.close();
}
