// The client notices a server that stopped answering (SIGSTOP), with its own
// ping, and is open again once it answers (SIGCONT):
// node out/liveness_scenario.js <host:port> <interval ms> <timeout ms>.
// Prints "STOP" when the test may stop the server, "CONT" when it may go on.
import WebSocket from "ws";
import { type CloseInfo, createClient } from "zocket-rs";
import { type Contract, contract } from "./contract.js";
import { check, first, waitFor, within } from "./common.js";

const [addr, interval, timeout] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];
const client = createClient(`ws://${addr}/ws`, {
  contract,
  headers: { name: "alive" },
  WebSocket,
  ping: { interval, timeout },
  reconnect: { minDelay: 100, maxDelay: 500 },
  connectTimeout: 1000,
});
await within("open", client.opened());
// Idle but healthy: the pings keep it open past the timeout.
await new Promise((resolve) => setTimeout(resolve, timeout + interval));
check(client.state === "open", "an idle connection to a live server stays open (pings answered)");
const lost = first<CloseInfo<Contract>>("the silent server noticed", (cb) => client.onClose(cb), () => true, 4 * (timeout + interval));
console.log("STOP");
await waitFor("STOPPED");
const stoppedAt = Date.now();
const info = await lost;
const noticed = Date.now() - stoppedAt;
console.log(`noticed after ${noticed} ms (timeout ${timeout}, interval ${interval}): ${info.code} ${info.reason}`);
check(info.code === 1006 && /did not answer/.test(info.reason) && info.willReconnect, "closed as silent, reconnecting");
check(noticed <= timeout + interval + 1000, "noticed within timeout + interval (and a second of slack for timers)");
const reopened = first("open again", (cb) => client.onState(cb), (s) => s === "open", 30_000);
console.log("CONT");
await waitFor("CONTINUED");
await reopened;
const { rooms } = await client.request("chat.rooms", null);
check(Array.isArray(rooms), "open again after the server came back");
client.close();
console.log("ts liveness scenario passed");
process.exit(0);
