/**
 * A typed client for zocket servers (and other Zocket servers: the wire
 * protocol is Zocket's). Its type parameter is the `Routes` map that zocket
 * generates from the Rust router (`Contract::typescript()`), so
 *
 * - `client.send("chat.send", payload)` compiles only for incoming routes, with their payload;
 * - `client.on("chat.onMessage", cb)` only for outgoing routes, `cb` getting their payload;
 * - `client.request("chat.rooms", payload)` only for request routes, with a typed answer;
 *
 * and the same through nested names, as the original Zocket client is used:
 * `client.send.chat.send(payload)`, `client.on.chat.onMessage(cb)`,
 * `client.request.chat.rooms(payload)`.
 *
 * It reconnects by itself (Zocket's defaults: 1 s, growing ×1.3 up to 10 s,
 * no limit), sends handshake data as query parameters, and sends the
 * contract's fingerprint so a server can detect drift (HTTP 409 when strict).
 */

/** The shape of a generated route map. */
export interface RouteMap {
  incoming: Record<string, unknown>;
  outgoing: Record<string, unknown>;
  requests: Record<string, { payload: unknown; response: unknown }>;
}

/** The payload of `$zocket.error`. */
export interface ZocketError {
  kind: string;
  route?: string | null;
  message: string;
  details?: Array<{ path: string; message: string }>;
  id?: unknown;
}

/** Why a request failed. */
export class RequestError extends Error {
  constructor(
    message: string,
    /** The server's error, when it answered with one. */
    readonly error?: ZocketError,
  ) {
    super(message);
    this.name = "RequestError";
  }
}

/** Reconnection: exponential backoff with jitter. */
export interface ReconnectOptions {
  /** First delay, ms (default 1000). */
  minDelay?: number;
  /** Largest delay, ms (default 10000). */
  maxDelay?: number;
  /** Growth per attempt (default 1.3). */
  factor?: number;
  /** Give up after this many failed attempts in a row (default: never). */
  maxRetries?: number;
}

/** The part of the `WebSocket` API the client uses (browsers, Node 22+, `ws`). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type SocketConstructor = new (url: string) => SocketLike;

export interface ClientOptions<H> {
  /**
   * Handshake data, sent as query parameters (the server validates it). A
   * function is called before every connection and reconnection (a fresh
   * token each time), and again when the server warns that the credentials
   * expire (`$zocket.expiring`): its values are then sent on `$zocket.auth`
   * without reconnecting.
   */
  headers?: H | (() => H | Promise<H>);
  /** The generated `contract` constant: sent so the server can detect drift. */
  contract?: { readonly fingerprint: string; readonly routes: string };
  /** The WebSocket implementation (default `globalThis.WebSocket`; pass `ws` in Node 20). */
  WebSocket?: SocketConstructor;
  /** `false` turns reconnection off. */
  reconnect?: ReconnectOptions | false;
  /** Time a request waits for its answer, ms (default 10000). */
  requestTimeout?: number;
  /** Messages sent while disconnected are queued (default 100; the oldest is dropped beyond). */
  bufferSize?: number;
}

type Handshake = Record<string, string | number | boolean>;

// ---- nested names: "chat.send" as send.chat.send ----------------------------------

type Head<K extends string> = K extends `${infer H}.${string}` ? H : K;
type Under<M, H extends string> = {
  [K in keyof M & string as K extends `${H}.${infer T}` ? T : never]: M[K];
};

/** `send.chat.send(payload)` */
export type NestedSend<M> = {
  [H in Head<keyof M & string>]: (H extends keyof M ? (payload: M[H]) => void : unknown) &
    NestedSend<Under<M, H>>;
};
/** `on.chat.onMessage(cb)` */
export type NestedOn<M> = {
  [H in Head<keyof M & string>]: (H extends keyof M
    ? (callback: (payload: M[H]) => void) => () => void
    : unknown) &
    NestedOn<Under<M, H>>;
};
type PayloadOf<T> = T extends { payload: infer P } ? P : never;
type ResponseOf<T> = T extends { response: infer A } ? A : never;
/** `request.chat.rooms(payload)` */
export type NestedRequest<M> = {
  [H in Head<keyof M & string>]: (H extends keyof M
    ? (payload: PayloadOf<M[H]>) => Promise<ResponseOf<M[H]>>
    : unknown) &
    NestedRequest<Under<M, H>>;
};

export type SendFn<R extends RouteMap> = (<K extends keyof R["incoming"] & string>(
  route: K,
  payload: R["incoming"][K],
) => void) &
  NestedSend<R["incoming"]>;
export type OnFn<R extends RouteMap> = (<K extends keyof R["outgoing"] & string>(
  route: K,
  callback: (payload: R["outgoing"][K]) => void,
) => () => void) &
  NestedOn<R["outgoing"]>;
export type RequestFn<R extends RouteMap> = (<K extends keyof R["requests"] & string>(
  route: K,
  payload: R["requests"][K]["payload"],
) => Promise<R["requests"][K]["response"]>) &
  NestedRequest<R["requests"]>;

export type ConnState = "connecting" | "open" | "closed";

export interface ZocketClient<R extends RouteMap> {
  /** Sends on an incoming route (queued while disconnected). */
  send: SendFn<R>;
  /** Listens on an outgoing route; returns the function that stops listening. */
  on: OnFn<R>;
  /** Asks on a request route; the answer comes on `$zocket.reply`. */
  request: RequestFn<R>;
  /** Listens for `$zocket.error` (validation failures, rejections, ...). */
  onError(callback: (error: ZocketError) => void): () => void;
  /** Listens for connection state changes (and, on refusal, the HTTP-less close). */
  onState(callback: (state: ConnState) => void): () => void;
  /** The current state. */
  readonly state: ConnState;
  /**
   * Whether the current connection resumed the previous one's session (a server
   * with connection-state recovery): same client id and rooms, and the messages
   * sent while away arrived. `false` on a fresh session: resynchronise then.
   */
  readonly recovered: boolean;
  /** The client id the server gave this session (servers with recovery on), if known. */
  readonly clientId: string | undefined;
  /** Resolves when the connection is open (the first time, or again after a drop). */
  opened(): Promise<void>;
  /** Closes for good (no reconnection). */
  close(): void;
}

const ERROR_ROUTE = "$zocket.error";
const REPLY_ROUTE = "$zocket.reply";
const WELCOME_ROUTE = "$zocket.welcome";
const AUTH_ROUTE = "$zocket.auth";
const EXPIRING_ROUTE = "$zocket.expiring";

/** Makes `fn(route, arg)` callable as `fn("a.b", arg)` and as `fn.a.b(arg)`. */
function nested(fn: (route: string, arg: unknown) => unknown, path: string[] = []): unknown {
  const target = path.length === 0 ? (route: string, arg: unknown) => fn(route, arg) : (arg: unknown) => fn(path.join("."), arg);
  return new Proxy(target, {
    get(t, prop) {
      if (typeof prop !== "string" || prop === "then") return Reflect.get(t, prop);
      return nested(fn, [...path, prop]);
    },
  });
}

/** Opens a client of a zocket server at `url` (`ws://host:port/path`). */
export function createClient<R extends RouteMap, H extends Handshake = Handshake>(
  url: string,
  options: ClientOptions<H> = {},
): ZocketClient<R> {
  const Socket = options.WebSocket ?? (globalThis as unknown as { WebSocket?: SocketConstructor }).WebSocket;
  if (!Socket) throw new Error("no WebSocket implementation: pass options.WebSocket (e.g. the `ws` package)");
  const reconnect = options.reconnect === false ? null : { minDelay: 1000, maxDelay: 10000, factor: 1.3, ...options.reconnect };
  const requestTimeout = options.requestTimeout ?? 10000;
  const bufferSize = options.bufferSize ?? 100;

  const target = new URL(url);
  const headersOption = options.headers;
  const credentials = async (): Promise<Handshake> =>
    (typeof headersOption === "function" ? await headersOption() : headersOption) ?? {};
  if (options.contract) {
    target.searchParams.set("zocket-contract", options.contract.fingerprint);
    target.searchParams.set("zocket-routes", options.contract.routes);
  }

  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  const stateListeners = new Set<(s: ConnState) => void>();
  const pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  const queue: string[] = [];
  let openWaiters: Array<() => void> = [];
  let socket: SocketLike | null = null;
  let state: ConnState = "connecting";
  let closedForGood = false;
  let attempt = 0;
  let nextId = 1;
  // Connection-state recovery: the session token, the last offset received.
  let session: { token: string; clientId: string } | null = null;
  let lastOffset = 0;
  let recovered = false;
  let awaitingWelcome: (() => void) | null = null;

  const setState = (s: ConnState) => {
    state = s;
    for (const cb of stateListeners) cb(s);
  };
  const listen = (route: string, cb: (payload: unknown) => void) => {
    let set = listeners.get(route);
    if (!set) listeners.set(route, (set = new Set()));
    set.add(cb);
    return () => void set.delete(cb);
  };
  const write = (frame: string) => {
    if (socket && state === "open") socket.send(frame);
    else {
      queue.push(frame);
      if (queue.length > bufferSize) queue.shift();
    }
  };
  const deliver = (route: string, payload: unknown) => {
    for (const cb of listeners.get(route) ?? []) {
      try {
        cb(payload);
      } catch (e) {
        console.error(`zocket: listener of ${route} threw`, e);
      }
    }
  };
  const onMessage = (data: unknown) => {
    if (typeof data !== "string") data = String(data);
    let msg: { type?: unknown; payload?: unknown; id?: unknown; offset?: unknown };
    try {
      msg = JSON.parse(data as string);
    } catch {
      return;
    }
    if (typeof msg?.type !== "string") return;
    const payload = msg.payload ?? null;
    if (typeof msg.offset === "number" && msg.offset > lastOffset) lastOffset = msg.offset;
    if (msg.type === WELCOME_ROUTE) {
      const w = payload as { clientId?: unknown; token?: unknown; recovered?: unknown };
      if (typeof w?.token === "string" && typeof w.clientId === "string") {
        recovered = w.recovered === true;
        if (!recovered) lastOffset = 0; // a fresh session: offsets start again
        session = { token: w.token, clientId: w.clientId };
      }
      const open = awaitingWelcome;
      awaitingWelcome = null;
      open?.();
      return;
    }
    if (awaitingWelcome) {
      const open = awaitingWelcome;
      awaitingWelcome = null;
      open();
    }
    if (msg.type === EXPIRING_ROUTE) {
      void reauthenticate();
      return;
    }
    if (msg.type === REPLY_ROUTE || (msg.type === ERROR_ROUTE && (payload as ZocketError)?.id !== undefined)) {
      const id = msg.type === REPLY_ROUTE ? msg.id : (payload as ZocketError).id;
      const waiter = pending.get(String(id));
      if (waiter) {
        pending.delete(String(id));
        clearTimeout(waiter.timer);
        if (msg.type === REPLY_ROUTE) waiter.resolve(payload);
        else waiter.reject(new RequestError((payload as ZocketError).message, payload as ZocketError));
      }
      if (msg.type === REPLY_ROUTE) return;
    }
    deliver(msg.type, payload);
  };
  /** Sends fresh credentials on `$zocket.auth` (the server warned of their expiry). */
  const reauthenticate = async () => {
    if (typeof headersOption !== "function") return;
    let values: Handshake;
    try {
      values = await credentials();
    } catch (e) {
      console.error("zocket: the credentials provider failed; cannot re-authenticate", e);
      return;
    }
    const payload = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
    const id = String(nextId++);
    const timer = setTimeout(() => pending.delete(id), requestTimeout);
    pending.set(id, {
      resolve: () => clearTimeout(timer),
      reject: (e) => {
        clearTimeout(timer);
        console.error("zocket: re-authentication refused", e);
      },
      timer,
    });
    write(JSON.stringify({ type: AUTH_ROUTE, payload, id }));
  };
  const connect = async () => {
    setState("connecting");
    recovered = false;
    const url = new URL(target.toString());
    try {
      for (const [k, v] of Object.entries(await credentials())) url.searchParams.set(k, String(v));
    } catch (e) {
      // A failing provider is retried like a failed connection.
      console.error("zocket: the credentials provider failed", e);
      return scheduleReconnect();
    }
    if (closedForGood) return;
    if (session) {
      url.searchParams.set("zocket-session", session.token);
      url.searchParams.set("zocket-offset", String(lastOffset));
    }
    const ws = new Socket(url.toString());
    socket = ws;
    const markOpen = () => {
      if (socket !== ws || state === "open") return;
      attempt = 0;
      setState("open");
      for (const frame of queue.splice(0)) ws.send(frame);
      const waiters = openWaiters;
      openWaiters = [];
      for (const w of waiters) w();
    };
    ws.onopen = () => {
      if (!session) return markOpen();
      // Resuming: the welcome comes first and says whether it worked; buffered
      // sends wait for it, so they follow the replayed messages. A server that
      // stopped greeting gets them after a short wait.
      awaitingWelcome = markOpen;
      setTimeout(markOpen, 2000);
    };
    ws.onmessage = (ev) => onMessage(ev.data);
    ws.onerror = () => {};
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      awaitingWelcome = null;
      for (const [id, w] of pending) {
        clearTimeout(w.timer);
        w.reject(new RequestError("connection closed before the answer"));
        pending.delete(id);
      }
      scheduleReconnect();
    };
  };
  const scheduleReconnect = () => {
    if (closedForGood || !reconnect || (reconnect.maxRetries !== undefined && attempt >= reconnect.maxRetries)) {
      closedForGood = true;
      setState("closed");
      return;
    }
    attempt += 1;
    const base = Math.min(reconnect.maxDelay, reconnect.minDelay * reconnect.factor ** (attempt - 1));
    setState("connecting");
    setTimeout(() => !closedForGood && void connect(), base * (0.5 + Math.random() * 0.5));
  };

  const send = nested((route, payload) => write(JSON.stringify({ type: route, payload: payload ?? null }))) as SendFn<R>;
  const on = nested((route, cb) => listen(route, cb as (p: unknown) => void)) as OnFn<R>;
  const request = nested(
    (route, payload) =>
      new Promise((resolve, reject) => {
        const id = String(nextId++);
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new RequestError(`no answer to ${route} within ${requestTimeout} ms`));
        }, requestTimeout);
        pending.set(id, { resolve, reject, timer });
        write(JSON.stringify({ type: route, payload: payload ?? null, id }));
      }),
  ) as RequestFn<R>;

  void connect();
  return {
    send,
    on,
    request,
    onError: (cb) => listen(ERROR_ROUTE, cb as (p: unknown) => void),
    onState: (cb) => {
      stateListeners.add(cb);
      return () => void stateListeners.delete(cb);
    },
    get state() {
      return state;
    },
    get recovered() {
      return recovered;
    },
    get clientId() {
      return session?.clientId;
    },
    opened: () => (state === "open" ? Promise.resolve() : new Promise<void>((resolve) => openWaiters.push(resolve))),
    close: () => {
      closedForGood = true;
      socket?.close(1000, "client closed");
      if (!socket) setState("closed");
    },
  };
}
