// The TypeScript client resumes its session after its connection is cut:
// node out/recovery_scenario.js <proxy host:port> <server host:port>
// Talks with the Rust test over stdio: prints "CUT" when the test may cut
// alice's connection, waits for "CUTDONE", then for "AWAY" (the server
// noticed), prints "SENT"
// once bob's messages are handled, and the test then lets alice back in.
import { createInterface } from "node:readline";
import WebSocket from "ws";
import { type ZocketClient, createClient } from "zocket-rs";
import { type Contract, contract } from "./contract.js";

const [proxied, direct] = [process.argv[2]!, process.argv[3]!];
const WAIT = 10_000;
const fast = { minDelay: 20, maxDelay: 100 };
const open = (addr: string, name: string) =>
  createClient(`ws://${addr}/ws`, { headers: { name }, contract, reconnect: fast, WebSocket });
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function waitFor(word: string): Promise<void> {
  for (;;) {
    const next = await lines.next();
    if (next.done) throw new Error(`stdin closed before ${word}`);
    if (next.value.trim() === word) return;
  }
}
function within<T>(what: string, p: Promise<T>): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT)),
  ]);
}
function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}
function collect(client: ZocketClient<Contract>, n: number): Promise<string[]> {
  return within(
    `${n} messages`,
    new Promise((resolve) => {
      const got: string[] = [];
      const off = client.on("chat.onMessage", (m) => {
        got.push(m.text);
        if (got.length === n) {
          off();
          resolve(got);
        }
      });
    }),
  );
}

const alice = open(proxied, "alice");
const bob = open(direct, "bob");
await within("open", Promise.all([alice.opened(), bob.opened()]));
const joined = within(
  "bob's join",
  new Promise<void>((resolve) => alice.on("chat.onJoin", (m) => m.name === "bob" && resolve())),
);
alice.send("chat.join", { room: "lobby" });
await within("alice's join", new Promise<void>((resolve) => alice.on("chat.onJoin", (m) => m.name === "alice" && resolve())));
bob.send("chat.join", { room: "lobby" });
await joined;
// The welcome is the first message of a connection: it has arrived.
const aliceId = alice.clientId;
check(typeof aliceId === "string" && !alice.recovered, "alice has a session");

// A request in flight across the cut: alice pokes bob, whose answer waits
// until alice's connection is gone; the answer reaches her on resume.
let release: (() => void) | undefined;
const asked = new Promise<void>((resolve) => {
  bob.onRequest("chat.poked", (q) => {
    resolve();
    return new Promise((answer) => (release = () => answer({ reply: `later, ${q.name}` })));
  });
});
const inFlight = alice.request("chat.poke", { clientId: bob.clientId! }, { timeout: 30_000 });
await within("bob asked", asked);

// The cut comes while the question waits; bob answers once the server has
// lost alice's connection, so the answer can only reach her through the kept
// session (a handler gets the server's close_timeout to finish).
console.log("CUT");
await waitFor("CUTDONE");
release!();
await waitFor("AWAY");
const bobSees = collect(bob, 3);
for (const text of ["one", "two", "three"]) bob.send("chat.send", { room: "lobby", text });
await bobSees;
const aliceGets = collect(alice, 4);
alice.send("chat.send", { room: "lobby", text: "alice is back" }); // buffered while away
console.log("SENT");
await within("alice back", new Promise<void>((resolve) => {
  const off = alice.onState((s) => {
    if (s === "open") {
      off();
      resolve();
    }
  });
}));
check(alice.recovered, "alice resumed her session");
check(alice.clientId === aliceId, "with the same client id");
const answer = await within("the in-flight answer", inFlight);
check(answer.reply === "later, alice", "a request in flight across the cut was answered after the resume");
const got = await aliceGets;
check(JSON.stringify(got) === JSON.stringify(["one", "two", "three", "alice is back"]), `missed messages in order, then her own (${got})`);
const rooms = await within("rooms", alice.request("chat.rooms", null));
check(JSON.stringify(rooms.rooms) === '["lobby"]', "her rooms were kept");
alice.close();
bob.close();
console.log("ts recovery scenario passed");
process.exit(0);
