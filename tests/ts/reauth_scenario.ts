// The typed TypeScript client keeps a connection whose credentials expire
// every 2 s (the chat example with SESSION_SECS=2): its headers function is
// called again when the server warns ($zocket.expiring), and the values go
// out on $zocket.auth, so the connection never closes.
// node out/reauth_scenario.js <host:port>. Prints "ts reauth scenario passed".
import WebSocket from "ws";
import { type ConnectionState, createClient } from "zocket-rs";
import { contract } from "./contract.js";

const url = `ws://${process.argv[2]}/ws`;
let calls = 0;
const states: ConnectionState[] = [];
const client = createClient(url, {
  headers: async () => {
    calls += 1;
    return { name: "renewer" };
  },
  contract,
  WebSocket,
});
client.onState((s) => states.push(s));
await client.opened();
const openedAt = Date.now();
await new Promise((resolve) => setTimeout(resolve, 5_000));
const fail = (why: string) => {
  console.log(`FAILED: ${why}`);
  process.exit(1);
};
if (client.state !== "open") fail(`state ${client.state}`);
if (states.some((s) => s !== "open")) fail(`the connection dropped: ${states.join(", ")}`);
if (calls < 3) fail(`the headers function ran ${calls} times in 5 s with 2-second credentials`);
const { rooms } = await client.request("chat.rooms", null);
if (!Array.isArray(rooms)) fail("no answer after the refreshes");
console.log(`open for ${Date.now() - openedAt} ms, headers computed ${calls} times`);
client.close();
console.log("ts reauth scenario passed");
