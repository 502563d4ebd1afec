// The typed TypeScript client against the chat example, through every route:
// node out/chat_scenario.js <host:port>. Prints "ts client scenario passed".
import WebSocket from "ws";
import { RequestError, type ZocketClient, type ZocketError, createClient } from "zocket-rs";
import { type Contract, contract } from "./contract.js";

const WAIT = 10_000;
const url = `ws://${process.argv[2]}/ws`;
const open = (name: string) => createClient(url, { contract, headers: { name }, WebSocket, validate: "both" });

function within<T>(what: string, p: Promise<T>): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT)),
  ]);
}
/** The next payload on an outgoing route that passes `test`. */
function next<K extends keyof Contract["outgoing"] & string>(
  client: ZocketClient<Contract>,
  route: K,
  test: (p: Contract["outgoing"][K]) => boolean = () => true,
): Promise<Contract["outgoing"][K]> {
  return within(
    route,
    new Promise((resolve) => {
      const off = client.on(route, (p) => {
        if (test(p)) {
          off();
          resolve(p);
        }
      });
    }),
  );
}
function nextError(client: ZocketClient<Contract>): Promise<ZocketError<Contract>> {
  return within(
    "$zocket.error",
    new Promise((resolve) => {
      const off = client.onError((e) => {
        off();
        resolve(e);
      });
    }),
  );
}
function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

const alice = open("alice");
const bob = open("bob");
await within("both open", Promise.all([alice.opened(), bob.opened()]));

let joined = next(alice, "chat.onJoin", (m) => m.name === "alice");
alice.send("chat.join", { room: "lobby" });
const aliceJoin = await joined;
check(aliceJoin.room === "lobby" && /^[0-9]+$/.test(aliceJoin.clientId), "alice sees her own chat.onJoin");

joined = next(alice, "chat.onJoin", (m) => m.name === "bob");
const bobSeesHimself = next(bob, "chat.onJoin", (m) => m.name === "bob");
bob.send.chat.join({ room: "lobby" }); // the nested form
await Promise.all([joined, bobSeesHimself]);
check(true, "chat.onJoin reaches the room (nested send)");

const message = next(alice, "chat.onMessage");
bob.send("chat.send", { room: "lobby", text: "hello from bob" });
const m = await message;
check(m.text === "hello from bob" && m.name === "bob", "chat.send -> chat.onMessage");

const typing = next(bob, "chat.onTyping");
alice.send("chat.typing", { room: "lobby", typing: true });
const t = await typing;
check(t.typing === true && t.name === "alice", "chat.typing -> chat.onTyping (others only)");

check(alice.on.chat.onMessage === alice.on.chat.onMessage && alice.send.chat === alice.send.chat, "nested functions keep their identity");
const rooms = await within("chat.rooms", alice.request("chat.rooms", null));
check(JSON.stringify(rooms.rooms) === '["lobby"]', "chat.rooms request answers");
const bobRooms = await within("chat.rooms (nested)", bob.request.chat.rooms(null));
check(bobRooms.rooms.length === 1, "chat.rooms through the nested form");

let error = nextError(alice);
alice.send("chat.send", { room: "elsewhere", text: "not a member" });
let e = await error;
check(e.kind === "rejected" && e.route === "chat.send", "a middleware refusal arrives on $zocket.error");

let thrown: unknown;
try {
  alice.send("chat.join", { room: "" });
} catch (err) {
  thrown = err;
}
check(thrown instanceof Error && thrown.name === "ValidationError", "an invalid payload is refused by the client's schema (validate)");
const raw = createClient(url, { contract, headers: { name: "carol" }, WebSocket });
await within("carol open", raw.opened());
error = nextError(raw);
raw.send("chat.join", { room: "" });
e = await error;
check(e.kind === "validation_failed" && e.route === "chat.join" && e.details?.[0]?.path === "room", "an invalid payload arrives on $zocket.error, typed");
raw.close();

// The server's question: alice pokes bob, the server asks bob, bob's answer comes back.
check(typeof bob.clientId === "string", "the welcome gave bob his client id");
const stopAnswering = bob.onRequest("chat.poked", async (q) => ({ reply: `hi ${q.name}, bob here` }));
const poke = await within("chat.poke", alice.request("chat.poke", { clientId: bob.clientId! }));
check(poke.reply === "hi alice, bob here", "a server question (chat.poked) is answered by the typed handler");
stopAnswering();
const unanswered = await alice.request("chat.poke", { clientId: bob.clientId! }).then(
  () => null,
  (e: unknown) => e,
);
check(
  unanswered instanceof RequestError && unanswered.kind === "server" && /does not answer chat\.poked/.test(unanswered.message),
  "a question without a handler is refused at once, with a clear message",
);
bob.onRequest("chat.poked", () => {
  throw new Error("not now");
});
const refusedPoke = await alice.request("chat.poke", { clientId: bob.clientId! }).catch((e: unknown) => e);
check(refusedPoke instanceof RequestError && /not now/.test(refusedPoke.message), "a thrown error refuses the question with its message");

// A route's own typed error: chat.topic refuses a non-member with `notAMember`.
const notMember = await alice.request("chat.topic", { room: "elsewhere", topic: "rust" }).catch((e: unknown) => e);
check(
  alice.isRouteError(notMember, "chat.topic") &&
    notMember.routeError.reason === "notAMember" &&
    notMember.routeError.room === "elsewhere",
  "a route error reaches the client typed by its route (kind route, routeError.reason)",
);
check(!alice.isRouteError(notMember, "chat.who"), "and is not another route's");
const topicSet = await alice.request("chat.topic", { room: "lobby", topic: "rust" });
check(topicSet.topic === "rust", "the same route answers when it does not refuse");
const unchanged = await alice.request("chat.topic", { room: "lobby", topic: "rust" }).catch((e: unknown) => e);
check(alice.isRouteError(unchanged, "chat.topic") && unchanged.routeError.reason === "unchanged", "a second refusal kind");

// A failed request is reported once: by its promise, not also on onError.
let errorsSeen = 0;
const countErrors = alice.onError(() => errorsSeen++);
const failed = await alice.request("chat.who", { room: "" }).catch((e: unknown) => e);
check(failed instanceof RequestError && failed.kind === "invalid", "an invalid request payload is refused before it is sent (validate)");
const bad = await alice.request("chat.poke", { clientId: "12345" }).catch((e: unknown) => e);
check(bad instanceof RequestError && bad.kind === "server" && bad.error?.kind === "rejected", "a refused request rejects with the server's typed error");
await alice.request("chat.rooms", null);
check(errorsSeen === 0, "and onError did not hear of it");
countErrors();

const left = next(alice, "chat.onLeave", (p) => p.name === "bob");
bob.send("chat.leave", { room: "lobby" });
await left;
check(true, "chat.leave -> chat.onLeave");

const gone = next(alice, "chat.onLeave", (p) => p.name === "bob");
bob.send("chat.join", { room: "lobby" });
await next(alice, "chat.onJoin", (p) => p.name === "bob");
bob.close();
await gone;
check(true, "a closing client's rooms hear chat.onLeave");

alice.close();
console.log("ts client scenario passed");
