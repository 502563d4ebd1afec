// The React hooks of zocket-rs/react with React Testing Library (jsdom),
// against the chat example started with BANNED_NAMES=root:
// node out/react_hooks.js <host:port>. Prints "ts react hooks passed".
import "./dom_setup.js";
import { act, render, waitFor } from "@testing-library/react";
import { StrictMode, useEffect, useRef } from "react";
import { renderToString } from "react-dom/server";
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { createZocketReact } from "zocket-rs/react";
import { contract } from "./contract.js";

const url = `ws://${process.argv[2]}/ws`;
const Chat = createZocketReact(contract);

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

/** Every socket the provider opens, counted. */
const sockets: WebSocket[] = [];
class Counting extends WebSocket {
  constructor(address: string) {
    super(address);
    sockets.push(this);
  }
}

const seen: string[] = []; // what the listener under test heard, as "label:text"
const all: string[] = []; // every message alice's page received
const joins: string[] = [];
const statuses: string[] = []; // useRequest("chat.rooms") states, as rendered
const pokes: string[] = []; // useRequest("chat.poke") states
let runRooms: (() => Promise<unknown>) | undefined;
let runPoke: (() => Promise<unknown>) | undefined;

function State() {
  const { state, refusal } = Chat.useConnection();
  return <p id="state">{refusal && state === "refused" ? `${state}: ${refusal.status} ${refusal.message}` : state}</p>;
}
function Room() {
  const client = Chat.useClient();
  const { state } = Chat.useConnection();
  Chat.useOn("chat.onJoin", (m) => joins.push(m.name));
  Chat.useOn("chat.onMessage", (m) => all.push(m.text));
  useEffect(() => {
    if (state === "open") client.send("chat.join", { room: "lobby" });
  }, [state, client]);
  return null;
}
function Listener({ label }: { label: string }) {
  Chat.useOn("chat.onMessage", (m) => seen.push(`${label}:${m.text}`));
  return <p>listening as {label}</p>;
}
function Requests() {
  const rooms = Chat.useRequest("chat.rooms");
  const poke = Chat.useRequest("chat.poke", { timeout: 5000 });
  const last = useRef("");
  const lastPoke = useRef("");
  if (last.current !== rooms.status) statuses.push((last.current = rooms.status));
  if (lastPoke.current !== poke.status) pokes.push((lastPoke.current = poke.status));
  runRooms = () => rooms.run(null);
  runPoke = () => poke.run({ clientId: "999999" });
  return (
    <p id="rooms">
      {rooms.status === "success" ? rooms.data.rooms.join(",") : rooms.status}
      {poke.status === "error" ? ` poke: ${poke.error.kind} ${poke.error.error?.kind}` : ""}
    </p>
  );
}
function App({ label, listening }: { label: string; listening: boolean }) {
  return (
    <StrictMode>
      <Chat.Provider url={url} headers={{ name: "alice" }} WebSocket={Counting}>
        <State />
        <Room />
        {listening && <Listener label={label} />}
        <Requests />
      </Chat.Provider>
    </StrictMode>
  );
}
const text = (id: string) => document.getElementById(id)?.textContent ?? "";

// Server rendering: markup, and no socket.
const html = renderToString(<App label="ssr" listening />);
check(html.includes("idle") && sockets.length === 0, "server rendering opens no socket (state idle)");
statuses.length = 0;
pokes.length = 0;

// Mounted under StrictMode (effects run twice): one socket, one subscription.
const page = render(<App label="first" listening />);
await waitFor(() => text("state") === "open" || Promise.reject(new Error(text("state"))), { timeout: 10_000 });
check(sockets.length === 1, `one socket under StrictMode (${sockets.length})`);
await waitFor(() => joins.includes("alice") || Promise.reject(new Error("no join")), { timeout: 10_000 });

const bob = createClient(url, { contract, headers: { name: "bob" }, WebSocket });
await bob.opened();
bob.send("chat.join", { room: "lobby" });
const say = async (t: string) => {
  bob.send("chat.send", { room: "lobby", text: t });
  await waitFor(() => all.includes(t) || Promise.reject(new Error(`no ${t}`)), { timeout: 10_000 });
};
await say("one");
check(JSON.stringify(seen) === '["first:one"]', `the listener hears a message once (${seen})`);

// A new handler on re-render: the latest one is called, without a second subscription.
page.rerender(<App label="second" listening />);
await say("two");
check(JSON.stringify(seen) === '["first:one","second:two"]', `the latest handler is called (${seen})`);

// The listening component unmounts: its subscription goes with it.
page.rerender(<App label="third" listening={false} />);
await say("three");
check(!seen.some((s) => s.endsWith(":three")), "an unmounted listener hears nothing");
page.rerender(<App label="fourth" listening />);
await say("four");
check(JSON.stringify(seen.slice(-1)) === '["fourth:four"]' && seen.length === 3, `and a remounted one hears again, once (${seen})`);

// A request: idle -> loading -> success, then loading -> error.
let pending: Promise<unknown> | undefined;
act(() => {
  pending = runRooms!();
});
check(text("rooms") === "loading", `loading is rendered while the request waits (${text("rooms")})`);
await act(async () => {
  await pending;
});
check(text("rooms").startsWith("lobby"), `the answer is rendered (${text("rooms")})`);
check(JSON.stringify(statuses) === '["idle","loading","success"]', `chat.rooms went idle -> loading -> success (${statuses})`);
act(() => {
  pending = runPoke!();
});
await act(async () => {
  await pending;
});
check(JSON.stringify(pokes) === '["idle","loading","error"]', `chat.poke went idle -> loading -> error (${pokes})`);
check(text("rooms").includes("poke: server rejected"), `the typed error is rendered (${text("rooms")})`);
check(sockets.length === 1, "still one socket");

// Unmounting the provider closes its client.
page.unmount();
await waitFor(() => sockets.every((s) => s.readyState === WebSocket.CLOSED) || Promise.reject(new Error("open")), { timeout: 10_000 });
check(true, "unmounting the provider closes its socket");

// A refused connection: the state hook shows the refusal and its reason.
const refused = render(
  <StrictMode>
    <Chat.Provider url={url} headers={{ name: "root" }} WebSocket={Counting}>
      <State />
    </Chat.Provider>
  </StrictMode>,
);
await waitFor(() => text("state").startsWith("refused") || Promise.reject(new Error(text("state"))), { timeout: 10_000 });
check(/refused: 403 the name "root" is not allowed here/.test(text("state")), `the refusal is shown (${text("state")})`);
refused.unmount();
bob.close();
console.log("ts react hooks passed");
process.exit(0);
