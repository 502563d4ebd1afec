// A program in a fresh project that installed the packed `zocket-rs`
// tarball: type-checked with the strictest options, then run against the
// chat example (node out/installed.js <host:port>).
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { contract } from "./contract.js";

const url = `ws://${process.argv[2]}/ws`;
const client = createClient(url, { contract, headers: { name: "installed" }, WebSocket, validate: "both" });
await client.opened();
const echoed = new Promise<string>((resolve) => client.on.chat.onMessage((m) => resolve(m.text)));
client.send("chat.join", { room: "lobby" });
client.send("chat.send", { room: "lobby", text: "from the tarball" });
const text = await echoed;
const { rooms } = await client.request("chat.rooms", null);
if (text !== "from the tarball" || rooms.join() !== "lobby") throw new Error(`unexpected: ${text} ${rooms}`);
client.close();
console.log("installed package works");
