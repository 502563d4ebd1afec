// The typed TypeScript client against the chat example, through every route:
// node out/chat_scenario.js <host:port>. Prints "ts client scenario passed".
import WebSocket from "ws";
import { createClient, type SocketConstructor, type ZocketClient, type ZocketError } from "./client.js";
import { type Routes, contract } from "./contract.js";

const WAIT = 10_000;
const url = `ws://${process.argv[2]}/ws`;
const open = (name: string) =>
  createClient<Routes>(url, { headers: { name }, contract, WebSocket: WebSocket as unknown as SocketConstructor });

function within<T>(what: string, p: Promise<T>): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT)),
  ]);
}
/** The next payload on an outgoing route that passes `test`. */
function next<K extends keyof Routes["outgoing"] & string>(
  client: ZocketClient<Routes>,
  route: K,
  test: (p: Routes["outgoing"][K]) => boolean = () => true,
): Promise<Routes["outgoing"][K]> {
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
function nextError(client: ZocketClient<Routes>): Promise<ZocketError> {
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

const rooms = await within("chat.rooms", alice.request("chat.rooms", null));
check(JSON.stringify(rooms.rooms) === '["lobby"]', "chat.rooms request answers");
const bobRooms = await within("chat.rooms (nested)", bob.request.chat.rooms(null));
check(bobRooms.rooms.length === 1, "chat.rooms through the nested form");

let error = nextError(alice);
alice.send("chat.send", { room: "elsewhere", text: "not a member" });
let e = await error;
check(e.kind === "rejected" && e.route === "chat.send", "a middleware refusal arrives on $zocket.error");

error = nextError(alice);
alice.send("chat.join", { room: "" });
e = await error;
check(e.kind === "validation_failed" && e.route === "chat.join", "an invalid payload arrives on $zocket.error");

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
