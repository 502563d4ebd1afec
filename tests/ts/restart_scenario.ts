// A server that shuts down (SIGTERM) and comes back on the same port: the
// client keeps trying until the next one is up.
// node out/restart_scenario.js <host:port>. Prints "RESTART" when the test may
// stop the server, and waits for "UP" before checking.
import WebSocket from "ws";
import { type CloseInfo, createClient } from "zocket-rs";
import { type Contract, contract } from "./contract.js";
import { check, first, waitFor, within } from "./common.js";

const client = createClient(`ws://${process.argv[2]}/ws`, { contract, headers: { name: "stayer" }, WebSocket, reconnect: { minDelay: 100, maxDelay: 300 } });
await within("open", client.opened());
const closed = first<CloseInfo<Contract>>("the shutdown", (cb) => client.onClose(cb));
console.log("RESTART");
const info = await closed;
check(info.code === 1001 && info.willReconnect, `closed with 1001 by the shutdown, reconnecting (${info.code} ${info.reason})`);
const reopened = first("open on the next server", (cb) => client.onState(cb), (s) => s === "open", 60_000);
await waitFor("UP");
await reopened;
check(client.state === "open", "open again on the next server");
const { rooms } = await client.request("chat.rooms", null);
check(Array.isArray(rooms), "and it works");
client.close();
console.log("ts restart scenario passed");
process.exit(0);
