/**
 * The client's run-time half: one WebSocket at a time, reconnection with
 * backoff, the send buffer, requests that run at most once, in-band
 * refusals, server questions, and the liveness ping.
 */

import type {
  AnyContract,
  ClientOptions,
  CloseInfo,
  ConnectionState,
  Issue,
  OnFn,
  OpenInfo,
  Refusal,
  RequestFailure,
  RouteErrorOf,
  RequestFn,
  RequestOptions,
  SchemaLike,
  SendFn,
  ZocketClient,
  ZocketError,
} from "./types.js";

const ERROR_ROUTE = "$zocket.error";
const REPLY_ROUTE = "$zocket.reply";
const WELCOME_ROUTE = "$zocket.welcome";
const AUTH_ROUTE = "$zocket.auth";
const EXPIRING_ROUTE = "$zocket.expiring";
const PING_ROUTE = "$zocket.ping";
const PONG_ROUTE = "$zocket.pong";
const PING_FRAME = JSON.stringify({ type: PING_ROUTE, payload: null });

/** Why a request failed; `kind` says which way, `error` holds the server's answer for `"server"`. */
export class RequestError<C extends AnyContract = AnyContract> extends Error {
  override readonly name = "RequestError";
  constructor(
    /** Which way it failed. */
    readonly kind: RequestFailure,
    /** The request's route. */
    readonly route: string,
    message: string,
    /** The server's `$zocket.error` payload, for `kind === "server"`. */
    readonly error?: ZocketError<C>,
    /** The schema's issues, for `kind === "invalid"`. */
    readonly issues: Issue[] = [],
  ) {
    super(message);
    this.routeError = kind === "route" ? (error as { error?: unknown } | undefined)?.error : undefined;
  }
  /** For `kind === "route"`: the route's own error, as the server sent it (typed by
   * `client.isRouteError(e, route)`). */
  readonly routeError: unknown;
}

/** A payload that fails the contract's schema (thrown by `send` with `validate: "outgoing"`). */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  constructor(
    readonly route: string,
    readonly issues: Issue[],
  ) {
    super(`${route}: the payload fails the contract's schema: ${issues.map((i) => `${i.path || "(value)"}: ${i.message}`).join("; ")}`);
  }
}

/** The WebSocket the client drives (browsers, Node 22+, Deno, Bun, `ws`). */
interface Socket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate?: () => void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

interface Pending {
  route: string;
  resolve: (value: unknown) => void;
  reject: (error: RequestError) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Written to a socket (then it may run; before, it is only in the queue). */
  sent: boolean;
  /** For `$zocket.auth`: settles without a caller. */
  internal?: boolean;
}

interface Queued {
  frame: string;
  /** The request this frame is, if it is one. */
  id?: string;
}

type Listener = (payload: unknown) => void;

/** The default of `retryRefused`: retry what may pass later (full, shutting down, overloaded). */
export function transientRefusal(refusal: { status: number }): boolean {
  const s = refusal.status;
  return s === 408 || s === 429 || (s >= 500 && s <= 599);
}

/** A zod path as the server writes paths: `items[2].roomId`. */
function pathOf(path: unknown): string {
  if (!Array.isArray(path)) return "";
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** A zod error's issues as `{path, message}`, paths written as the server writes them. */
function issuesOf(error: unknown): Issue[] {
  const list = (error as { issues?: Array<{ path?: unknown; message?: unknown }> } | undefined)?.issues;
  if (!Array.isArray(list)) return [{ path: "", message: String(error) }];
  return list.map((i) => ({ path: pathOf(i.path), message: String(i.message ?? "invalid") }));
}

function check(schema: SchemaLike | undefined, value: unknown): Issue[] | null {
  if (!schema) return null;
  const result = schema.safeParse(value);
  return result.success ? null : issuesOf(result.error);
}

/**
 * Opens a typed client of a zocket server at `url` (`ws://host:port/path`).
 * Its type comes from the generated `contract`: the routes it may send,
 * listen on and ask, the handshake values, the error kinds.
 *
 * ```ts
 * import { createClient } from "zocket-rs";
 * import { contract } from "./contract.js"; // cargo run --example chat -- --contract ts
 *
 * const chat = createClient("ws://127.0.0.1:3000/ws", { contract, headers: { name: "alice" } });
 * chat.send("chat.join", { room: "lobby" });
 * chat.on("chat.onMessage", (m) => console.log(m.name, m.text));
 * const { rooms } = await chat.request("chat.rooms", null);
 * ```
 */
export function createClient<C extends AnyContract>(url: string | URL, options: ClientOptions<C>): ZocketClient<C> {
  const headersOption = (options as { headers?: unknown }).headers as
    | Record<string, unknown>
    | (() => Record<string, unknown> | Promise<Record<string, unknown>>)
    | undefined;
  const socketClass = () => {
    const found = (options.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket) as
      | (new (url: string) => Socket)
      | undefined;
    if (!found) throw new Error("no WebSocket implementation: pass options.WebSocket (in Node 20, `WebSocket` from the `ws` package)");
    return found;
  };
  const autoConnect = options.autoConnect ?? true;
  let Socket: (new (url: string) => Socket) | undefined = autoConnect ? socketClass() : undefined;
  const reconnectOptions = options.reconnect === false ? null : { minDelay: 1000, maxDelay: 10000, factor: 1.3, ...options.reconnect };
  const retryRefused = options.retryRefused ?? transientRefusal;
  const requestTimeout = options.requestTimeout ?? 10000;
  const connectTimeout = options.connectTimeout ?? 10000;
  const bufferSize = Math.max(1, options.bufferSize ?? 100);
  const ping = options.ping === false ? null : { interval: 20000, timeout: 45000, ...options.ping };
  const schemas = options.contract.schemas;
  const validateIn = options.validate === "incoming" || options.validate === "both";
  const validateOut = options.validate === "outgoing" || options.validate === "both";

  const target = new URL(String(url));
  target.searchParams.set("zocket-contract", options.contract.fingerprint);
  target.searchParams.set("zocket-routes", options.contract.routes);
  // Refusals told on the socket: a browser cannot read a refused upgrade.
  target.searchParams.set("zocket-refusal", "message");

  const listeners = new Map<string, Set<Listener>>();
  const errorListeners = new Set<(e: ZocketError<C>) => void>();
  const stateListeners = new Set<(s: ConnectionState) => void>();
  const openListeners = new Set<(i: OpenInfo) => void>();
  const closeListeners = new Set<(i: CloseInfo<C>) => void>();
  const answerers = new Map<string, (payload: unknown) => unknown>();
  const pending = new Map<string, Pending>();
  const queue: Queued[] = [];
  let openWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  let socket: Socket | null = null;
  let state: ConnectionState = autoConnect ? "connecting" : "idle";
  let started = autoConnect;
  let closedForGood = false;
  let attempt = 0;
  let nextId = 1;
  let generation = 0;
  let refusal: Refusal<C> | undefined;
  // Connection-state recovery: the session token, the last offset received.
  let session: { token: string; clientId: string } | null = null;
  let lastOffset = 0;
  let recovered = false;
  let clientId: string | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;

  const emit = <T>(set: Set<(v: T) => void>, value: T, what: string) => {
    for (const cb of [...set]) {
      try {
        cb(value);
      } catch (e) {
        console.error(`zocket: a ${what} listener threw`, e);
      }
    }
  };
  const setState = (s: ConnectionState) => {
    if (state === s) return;
    state = s;
    emit(stateListeners, s, "state");
    if (s === "refused" || s === "closed") {
      const waiters = openWaiters;
      openWaiters = [];
      const why = s === "refused" ? `the server refused the connection: ${refusal?.message ?? ""}` : "the client is closed";
      for (const w of waiters) w.reject(new Error(why));
    }
  };
  const listen = <T>(set: Set<T>, cb: T) => {
    set.add(cb);
    return () => void set.delete(cb);
  };

  // ---- requests ------------------------------------------------------------------------

  const settle = (id: string): Pending | undefined => {
    const p = pending.get(id);
    if (!p) return undefined;
    pending.delete(id);
    clearTimeout(p.timer);
    const at = queue.findIndex((q) => q.id === id);
    if (at >= 0) queue.splice(at, 1); // never sent: it never will be
    return p;
  };
  const fail = (id: string, kind: RequestFailure, message: string, error?: ZocketError<C>) => {
    const p = settle(id);
    if (p && !p.internal) p.reject(new RequestError<C>(kind, p.route, message, error) as RequestError);
    else if (p?.internal && kind !== "closed") console.warn(`zocket: ${p.route} failed: ${message}`);
  };
  const failAll = (kind: RequestFailure, message: string, onlySent: boolean) => {
    for (const [id, p] of [...pending]) if (!onlySent || p.sent) fail(id, kind, message);
  };
  const ask = (route: string, payload: unknown, opts: RequestOptions | undefined, internal = false): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (closedForGood) return reject(new RequestError("closed", route, "the client is closed"));
      if (validateOut && !internal) {
        const issues = check(schemas?.requests[route]?.payload, payload);
        if (issues) return reject(new RequestError("invalid", route, `${route}: the payload fails the contract's schema`, undefined, issues));
      }
      const id = String(nextId++);
      const timeout = opts?.timeout ?? requestTimeout;
      const timer = setTimeout(() => {
        const p = pending.get(id);
        fail(id, "timeout", p?.sent ? `no answer to ${route} within ${timeout} ms` : `${route} was not sent: no connection within ${timeout} ms`);
      }, timeout);
      pending.set(id, { route, resolve, reject, timer, sent: false, internal });
      write(JSON.stringify({ type: route, payload: payload ?? null, id }), id);
    });

  // ---- writing -------------------------------------------------------------------------

  const isOpen = () => socket !== null && state === "open";
  const write = (frame: string, id?: string) => {
    if (isOpen()) {
      socket!.send(frame);
      if (id) pending.get(id)!.sent = true;
      return;
    }
    queue.push(id === undefined ? { frame } : { frame, id });
    if (queue.length > bufferSize) {
      const dropped = queue.shift()!;
      if (dropped.id) fail(dropped.id, "dropped", "the send buffer was full while disconnected: dropped, never sent");
      else console.warn("zocket: the send buffer is full while disconnected; dropped the oldest message");
    }
  };
  const flush = (ws: Socket) => {
    for (const item of queue.splice(0)) {
      ws.send(item.frame);
      const p = item.id ? pending.get(item.id) : undefined;
      if (p) p.sent = true;
    }
  };

  // ---- reading -------------------------------------------------------------------------

  const deliver = (route: string, payload: unknown) => {
    if (validateIn) {
      const issues = check(schemas?.outgoing[route], payload);
      if (issues) {
        emit(errorListeners, { kind: "invalid_payload", route, message: "the server sent a payload that fails the contract's schema", details: issues } as ZocketError<C>, "error");
        return;
      }
    }
    const set = listeners.get(route);
    if (set) emit(set, payload, route);
  };
  const answer = async (ws: Socket, route: string, id: unknown, payload: unknown) => {
    const refuse = (message: string) =>
      ws.send(JSON.stringify({ type: ERROR_ROUTE, payload: { kind: "rejected", route, message, id } }));
    const handler = answerers.get(route);
    if (!handler) return refuse(`this client does not answer ${route}`);
    if (validateIn) {
      const issues = check(schemas?.clientRequests[route]?.payload, payload);
      if (issues) return refuse(`the question fails the contract's schema: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`);
    }
    let reply: unknown;
    try {
      reply = await handler(payload);
    } catch (e) {
      return refuse(e instanceof Error ? e.message : String(e));
    }
    if (validateOut) {
      const issues = check(schemas?.clientRequests[route]?.response, reply);
      if (issues) return refuse(`the answer fails the contract's schema: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`);
    }
    if (socket === ws && ws.readyState === 1) ws.send(JSON.stringify({ type: REPLY_ROUTE, id, payload: reply ?? null }));
  };

  /** One frame from `ws`; `refused` collects an in-band refusal for the close that follows. */
  const onFrame = (ws: Socket, data: unknown, refused: { value?: Refusal<C> }, opened: () => void) => {
    let msg: { type?: unknown; payload?: unknown; id?: unknown; offset?: unknown };
    try {
      msg = JSON.parse(typeof data === "string" ? data : String(data));
    } catch {
      return;
    }
    if (typeof msg !== "object" || msg === null || typeof msg.type !== "string") return;
    const type = msg.type;
    const payload = msg.payload ?? null;
    if (typeof msg.offset === "number" && msg.offset > lastOffset) lastOffset = msg.offset;
    switch (type) {
      case PONG_ROUTE:
        return;
      case WELCOME_ROUTE: {
        const w = payload as { clientId?: unknown; token?: unknown; recovered?: unknown };
        if (typeof w?.clientId === "string") clientId = w.clientId;
        if (typeof w?.token === "string" && typeof w.clientId === "string") {
          recovered = w.recovered === true;
          if (!recovered) {
            // A fresh session: what was in flight on the old one has no answer coming.
            failAll("disconnected", "the connection dropped before the answer and the session was not resumed", true);
            lastOffset = 0;
          }
          session = { token: w.token, clientId: w.clientId };
        }
        return opened();
      }
      case EXPIRING_ROUTE:
        opened();
        return void reauthenticate();
      case REPLY_ROUTE: {
        opened();
        const p = settle(String(msg.id));
        if (!p) return;
        if (validateIn && !p.internal) {
          const issues = check(schemas?.requests[p.route]?.response, payload);
          if (issues) return p.reject(new RequestError("invalid", p.route, `${p.route}: the answer fails the contract's schema`, undefined, issues));
        }
        return p.resolve(payload);
      }
      case ERROR_ROUTE: {
        const e = payload as ZocketError<C>;
        if (e?.kind === "refused") {
          refused.value = { status: Number(e.status ?? 0), message: String(e.message ?? ""), details: e.details ?? [], error: e };
          return;
        }
        opened();
        if (e?.id !== undefined && e.id !== null) {
          // The answer to one request: its promise says so, and nothing else does.
          const id = String(e.id);
          const p = pending.get(id);
          if (p) fail(id, e.kind === "route_error" ? "route" : "server", String(e.message), e);
          return;
        }
        return emit(errorListeners, e, "error");
      }
    }
    opened();
    if (msg.id !== undefined) return void answer(ws, type, msg.id, payload);
    deliver(type, payload);
  };

  /** Sends fresh credentials on `$zocket.auth` (the server warned of their expiry). */
  const reauthenticate = async () => {
    if (typeof headersOption !== "function") return;
    let values: Record<string, unknown>;
    try {
      values = await headersOption();
    } catch (e) {
      return console.error("zocket: the credentials provider failed; cannot re-authenticate", e);
    }
    const payload: Record<string, string> = {};
    for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== null) payload[k] = String(v);
    ask(AUTH_ROUTE, payload, undefined, true).catch(() => {});
  };

  // ---- connecting ----------------------------------------------------------------------

  const connect = async () => {
    const mine = ++generation;
    clearTimeout(retryTimer);
    setState("connecting");
    recovered = false;
    const url = new URL(target.toString());
    try {
      const values = typeof headersOption === "function" ? await headersOption() : headersOption;
      for (const [k, v] of Object.entries(values ?? {})) {
        if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
      }
    } catch (e) {
      console.error("zocket: the credentials provider failed; retrying", e);
      return scheduleReconnect();
    }
    if (closedForGood || mine !== generation) return;
    if (session) {
      url.searchParams.set("zocket-session", session.token);
      url.searchParams.set("zocket-offset", String(lastOffset));
    }
    let ws: Socket;
    try {
      ws = new Socket!(url.toString());
    } catch (e) {
      console.error("zocket: cannot open a WebSocket", e);
      return scheduleReconnect();
    }
    socket = ws;
    const refused: { value?: Refusal<C> } = {};
    let lastHeard = Date.now();
    let wasOpen = false;
    let ended = false;
    let pinger: ReturnType<typeof setInterval> | undefined;
    let welcomeTimer: ReturnType<typeof setTimeout> | undefined;
    const connectTimer = setTimeout(() => end(1006, `no connection within ${connectTimeout} ms`, true), connectTimeout);
    const markOpen = () => {
      if (socket !== ws || wasOpen || ended) return;
      wasOpen = true;
      clearTimeout(welcomeTimer);
      attempt = 0;
      setState("open");
      flush(ws);
      const waiters = openWaiters;
      openWaiters = [];
      for (const w of waiters) w.resolve();
      emit(openListeners, { recovered, clientId }, "open");
    };
    /** The connection is over: report it once and decide what comes next. */
    const end = (code: number, reason: string, abandon: boolean) => {
      if (ended) return;
      ended = true;
      clearTimeout(connectTimer);
      clearTimeout(welcomeTimer);
      clearInterval(pinger);
      if (abandon) {
        // Not waiting for a close handshake with a server that does not answer.
        ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
        try {
          if (ws.terminate) ws.terminate();
          else ws.close(4000, reason.slice(0, 100));
        } catch {
          // already closed
        }
      }
      if (socket !== ws) return;
      socket = null;
      const r = refused.value;
      if (r) refusal = r;
      // In flight without a session to resume: the answer is lost.
      if (!session) failAll("disconnected", "the connection dropped before the answer", true);
      // The app's policy is asked once per refusal.
      const final = r !== undefined && !retryRefused(r);
      const willReconnect = !closedForGood && !final && reconnectOptions !== null && (reconnectOptions.maxRetries === undefined || attempt < reconnectOptions.maxRetries);
      const info: CloseInfo<C> = r ? { code, reason, refusal: r, willReconnect } : { code, reason, willReconnect };
      if (closedForGood) {
        setState("closed");
      } else if (r && final) {
        failAll("closed", `the server refused the connection (${r.status}): ${r.message}`, false);
        queue.length = 0;
        setState("refused");
      } else {
        scheduleReconnect();
      }
      emit(closeListeners, info, "close");
    };
    ws.onopen = () => {
      if (socket !== ws) return;
      clearTimeout(connectTimer);
      lastHeard = Date.now();
      if (ping) {
        pinger = setInterval(() => {
          if (Date.now() - lastHeard >= ping.timeout) {
            return end(1006, `the server did not answer for ${ping.timeout} ms`, true);
          }
          if (ws.readyState === 1) ws.send(PING_FRAME);
        }, ping.interval);
      }
      // The server's first frame says what this socket is: `$zocket.welcome`
      // for an accepted connection (sent to every client that asks for in-band
      // refusals, as this one does), or a refusal followed by a close. Buffered
      // sends wait for it, so nothing is written to a refused socket and, on a
      // resume, they follow the replayed messages. A server that does not
      // greet (a plain Zocket server) gets them after a short wait.
      welcomeTimer = setTimeout(markOpen, 1500);
    };
    ws.onmessage = (ev) => {
      if (socket !== ws) return;
      lastHeard = Date.now();
      onFrame(ws, ev.data, refused, markOpen);
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => end(ev.code, ev.reason, false);
  };

  const scheduleReconnect = () => {
    if (closedForGood) return setState("closed");
    if (!reconnectOptions || (reconnectOptions.maxRetries !== undefined && attempt >= reconnectOptions.maxRetries)) {
      closedForGood = true;
      failAll("closed", "the client stopped reconnecting", false);
      queue.length = 0;
      return setState("closed");
    }
    attempt += 1;
    const base = Math.min(reconnectOptions.maxDelay, reconnectOptions.minDelay * reconnectOptions.factor ** (attempt - 1));
    setState("connecting");
    const mine = generation;
    retryTimer = setTimeout(() => {
      if (!closedForGood && mine === generation && socket === null) void connect();
    }, base * (0.5 + Math.random() * 0.5));
  };

  // ---- the typed surface ----------------------------------------------------------------

  /** Makes `fn(route, ...)` callable as `fn("a.b", ...)` and as `fn.a.b(...)`; nested proxies are
   * made once, so `client.on.chat.onMessage` is the same function every time. */
  const nested = (fn: (route: string, ...args: unknown[]) => unknown) => {
    const cache = new Map<string, unknown>();
    const make = (path: string): unknown => {
      const known = cache.get(path);
      if (known) return known;
      const call = path === "" ? fn : (...args: unknown[]) => fn(path, ...args);
      const proxy = new Proxy(call, {
        get(t, prop) {
          if (typeof prop !== "string" || prop === "then" || prop in Function.prototype) return Reflect.get(t, prop);
          return make(path === "" ? prop : `${path}.${prop}`);
        },
      });
      cache.set(path, proxy);
      return proxy;
    };
    return make("");
  };

  const send = nested((route, payload) => {
    if (closedForGood) throw new Error(`zocket: cannot send ${route}: the client is closed`);
    if (validateOut) {
      const issues = check(schemas?.incoming[route], payload);
      if (issues) throw new ValidationError(route, issues);
    }
    write(JSON.stringify({ type: route, payload: payload ?? null }));
  }) as SendFn<C>;
  const on = nested((route, cb) => {
    let set = listeners.get(route);
    if (!set) listeners.set(route, (set = new Set()));
    return listen(set, cb as Listener);
  }) as OnFn<C>;
  const request = nested((route, payload, opts) => ask(route, payload, opts as RequestOptions | undefined)) as RequestFn<C>;

  if (autoConnect) void connect();

  return {
    send,
    on,
    request,
    onRequest(route, handler) {
      if (answerers.has(route)) throw new Error(`zocket: ${route} already has a handler; remove it first`);
      const h = handler as (p: unknown) => unknown;
      answerers.set(route, h);
      return () => {
        if (answerers.get(route) === h) answerers.delete(route);
      };
    },
    isRouteError: <K extends keyof C["requests"] & string>(
      error: unknown,
      route: K,
    ): error is RequestError<C> & { kind: "route"; routeError: RouteErrorOf<C, K> } =>
      error instanceof RequestError && error.kind === "route" && error.route === route,
    onError: (cb) => listen(errorListeners, cb),
    onState: (cb) => listen(stateListeners, cb),
    onOpen: (cb) => listen(openListeners, cb),
    onClose: (cb) => listen(closeListeners, cb),
    get state() {
      return state;
    },
    get refusal() {
      return refusal;
    },
    get recovered() {
      return recovered;
    },
    get clientId() {
      return clientId;
    },
    opened: () => {
      if (state === "open") return Promise.resolve();
      if (state === "closed") return Promise.reject(new Error("the client is closed"));
      if (state === "refused") return Promise.reject(new Error(`the server refused the connection: ${refusal?.message ?? ""}`));
      return new Promise<void>((resolve, reject) => openWaiters.push({ resolve, reject }));
    },
    connect: () => {
      if (started || closedForGood) return;
      Socket = socketClass();
      started = true;
      void connect();
    },
    reconnect: () => {
      if (closedForGood) return;
      if (!started) {
        Socket = socketClass();
        started = true;
      }
      const ws = socket;
      socket = null;
      if (ws) {
        ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
        try {
          ws.close(1000, "reconnecting");
        } catch {
          // already closed
        }
        if (!session) failAll("disconnected", "the client reconnected before the answer", true);
      }
      attempt = 0;
      void connect();
    },
    close: () => {
      if (closedForGood) return;
      closedForGood = true;
      clearTimeout(retryTimer);
      failAll("closed", "the client was closed", false);
      queue.length = 0;
      const ws = socket;
      if (ws && ws.readyState <= 1) {
        ws.close(1000, "client closed");
      } else {
        socket = null;
        setState("closed");
      }
    },
  };
}
