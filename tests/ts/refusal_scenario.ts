// Refusals a client can read, against the chat example started with
// CHAT_PASSWORD=pw BANNED_NAMES=root STRICT_CONTRACT=1 MAX_CONNECTIONS=2:
// node out/refusal_scenario.js <host:port>. Prints "ts refusal scenario passed".
import WebSocket from "ws";
import { type CloseInfo, type Refusal, createClient } from "zocket-rs";
import { type Contract, contract } from "./contract.js";
import { check, first, within } from "./common.js";

const url = `ws://${process.argv[2]}/ws`;
const fast = { minDelay: 50, maxDelay: 100 };

/** Connects with `headers` (and `c` as the contract) and returns the refusal that stops it. */
async function refusedWith(what: string, headers: { name: string; password?: string }, c = contract): Promise<Refusal> {
  const client = createClient(url, { contract: c, headers, WebSocket, reconnect: fast });
  const closes: CloseInfo<Contract>[] = [];
  client.onClose((i) => closes.push(i));
  const queued = client.request("chat.rooms", null);
  await first(`${what}: refused`, (cb) => client.onState(cb), (s) => s === "refused");
  const failed = await queued.catch((e: unknown) => e);
  // Retries would show as more closes: give them time to happen (4x the backoff's largest delay).
  await new Promise((resolve) => setTimeout(resolve, 400));
  check(client.state === "refused" && closes.length === 1, `${what}: not retried (${closes.length} close)`);
  const r = client.refusal!;
  check(closes[0]!.code === 4000 + r.status && closes[0]!.refusal?.status === r.status && !closes[0]!.willReconnect, `${what}: closed with ${closes[0]!.code}`);
  check(failed instanceof Error && (failed as { kind?: string }).kind === "closed", `${what}: a request made meanwhile fails with \`closed\`, never sent`);
  let opened: unknown;
  await client.opened().catch((e: unknown) => (opened = e));
  check(opened instanceof Error, `${what}: opened() rejects`);
  client.close();
  return r;
}

let r = await refusedWith("invalid handshake data", { name: "", password: "pw" });
check(r.status === 400 && r.details.some((d) => d.path === "name") && r.error.kind === "refused", `400 names the field (${JSON.stringify(r.details)})`);
r = await refusedWith("no password", { name: "alice" });
check(r.status === 401 && r.message === "wrong or missing password", `401 from on_connect with its reason (${r.message})`);
r = await refusedWith("banned name", { name: "root", password: "pw" });
check(r.status === 403 && /not allowed/.test(r.message), `403 from on_connect with its reason (${r.message})`);
const drifted = { ...contract, fingerprint: "0123456789abcdef", routes: contract.routes.replace(/chat\.send:[0-9a-f]+/, "chat.send:00000000") };
r = await refusedWith("contract drift", { name: "alice", password: "pw" }, drifted);
check(r.status === 409 && r.details.some((d) => d.path === "chat.send" && d.message === "changed"), `409 names the route that differs (${JSON.stringify(r.details)})`);

// 503 (full) is retried with the backoff until there is room.
const a = createClient(url, { contract, headers: { name: "a", password: "pw" }, WebSocket });
const b = createClient(url, { contract, headers: { name: "b", password: "pw" }, WebSocket });
await within("two open", Promise.all([a.opened(), b.opened()]));
const c = createClient(url, { contract, headers: { name: "c", password: "pw" }, WebSocket, reconnect: fast });
const full = await first<CloseInfo<Contract>>("c refused for a moment", (cb) => c.onClose(cb), (i) => i.refusal !== undefined);
check(full.refusal?.status === 503 && full.willReconnect && full.code === 4503, `503 ${full.refusal?.message}: retried`);
await first<CloseInfo<Contract>>("c refused twice", (cb) => c.onClose(cb), (i) => i.refusal?.status === 503);
check(c.state === "connecting", "still trying while full");
a.close();
await within("c open once there is room", c.opened());
check(c.state === "open", "in once a connection left");
const { rooms } = await c.request("chat.rooms", null);
check(Array.isArray(rooms), "and it works");
b.close();
c.close();
console.log("ts refusal scenario passed");
process.exit(0);
