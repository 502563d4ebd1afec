// Requests run at most once: node out/requests_scenario.js <host:port>, with
// nothing listening there at first. Prints "WAITING" when the test may start
// the server on that port, "COUNT <route> <n>" for what the server must have
// counted, and "ts requests scenario passed".
import WebSocket from "ws";
import { RequestError, createClient } from "zocket-rs";
import { contract } from "./contract.js";
import { check, first, within } from "./common.js";

const url = `ws://${process.argv[2]}/ws`;
const fast = { minDelay: 50, maxDelay: 200 };
const alice = createClient(url, { contract, headers: { name: "alice" }, WebSocket, reconnect: fast });

// 1. Requests that give up before there is a connection: rejected once, never sent.
const early = await Promise.allSettled([1, 2, 3].map(() => alice.request("chat.rooms", null, { timeout: 300 })));
check(
  early.every((r) => r.status === "rejected" && r.reason instanceof RequestError && r.reason.kind === "timeout" && /was not sent/.test(r.reason.message)),
  "requests made while disconnected fail with `timeout` when no connection comes in time",
);

// 2. Requests that wait for the connection: each runs once.
const waiting = [1, 2, 3, 4, 5].map(() => alice.request("chat.rooms", null, { timeout: 30_000 }));
console.log("WAITING");
const answers = await within("the waiting requests", Promise.all(waiting), 30_000);
check(answers.length === 5 && answers.every((a) => Array.isArray(a.rooms)), "requests made while disconnected run once the connection opens");

// 3. A request in flight when the connection drops (no recovery): rejected at
// once with `disconnected`, and not sent again on the next connection.
const bob = createClient(url, { contract, headers: { name: "bob" }, WebSocket, reconnect: fast });
await within("bob open", bob.opened());
let asked = 0;
bob.onRequest("chat.poked", () => {
  asked += 1;
  return new Promise(() => {}); // never answers
});
const poke = alice.request("chat.poke", { clientId: bob.clientId! }, { timeout: 30_000 });
await within("bob asked", new Promise<void>((resolve) => {
  const t = setInterval(() => asked > 0 && (clearInterval(t), resolve()), 10);
}));
alice.reconnect();
const failed = await poke.catch((e: unknown) => e);
check(failed instanceof RequestError && failed.kind === "disconnected", "a request in flight when the connection drops is rejected (no session to resume)");
await first("alice open again", (cb) => alice.onState(cb), (s) => s === "open");
await within("a round trip", alice.request("chat.rooms", null));
check(asked === 1, "and it was not sent again");

// 4. Every failure reported once: the promise, not onError too.
let errors = 0;
alice.onError(() => errors++);
const refused = await alice.request("chat.poke", { clientId: "999999" }).catch((e: unknown) => e);
check(refused instanceof RequestError && refused.kind === "server", "a refused request rejects");
await alice.request("chat.rooms", null);
check(errors === 0, "and nothing reaches onError");

// 5. close(): what waits fails with `closed`, and is never sent.
bob.close();
const c = createClient(url, { contract, headers: { name: "carol" }, WebSocket });
const never = c.request("chat.rooms", null);
c.close();
const closed = await never.catch((e: unknown) => e);
check(closed instanceof RequestError && closed.kind === "closed", "close() fails a waiting request with `closed`");
alice.close();
// The server ran: 5 (part 2) + 1 (part 3) + 1 (part 3's round trip) + 1 (part 4) chat.rooms; 2 chat.poke.
console.log("COUNT chat.rooms 7");
console.log("COUNT chat.poke 2");
console.log("ts requests scenario passed");
process.exit(0);
