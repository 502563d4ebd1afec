/**
 * The types of the client: what a generated contract looks like, and the
 * typed functions, errors and events made from it. Nothing here exists at
 * run time.
 */

import type { RequestError } from "./client.js";

/** One problem with a value: a dotted field path (empty for the whole value) and what is wrong. */
export interface Issue {
  path: string;
  message: string;
}

/**
 * What every generated `Contract` type looks like (`Contract::typescript()`
 * in Rust, or `cargo run --example chat -- --contract ts`). You never write
 * it: `createClient` infers your contract from the generated `contract` value.
 */
export interface AnyContract {
  incoming: Record<string, unknown>;
  outgoing: Record<string, unknown>;
  requests: Record<string, { payload: unknown; response: unknown; error?: unknown }>;
  clientRequests: Record<string, { payload: unknown; response: unknown; error?: unknown }>;
  handshake: object;
  error: {
    kind: string;
    message: string;
    route?: string | null | undefined;
    details?: Issue[] | undefined;
    id?: unknown;
    status?: number | null | undefined;
  };
}

/** The part of a zod schema the client uses (zod 3 and 4 both have it). */
export interface SchemaLike {
  safeParse(value: unknown): { success: boolean; error?: unknown };
}

/** The generated `routeSchemas`: a schema per route (and response). */
export interface Schemas {
  incoming: Record<string, SchemaLike>;
  outgoing: Record<string, SchemaLike>;
  requests: Record<string, { payload: SchemaLike; response: SchemaLike }>;
  clientRequests: Record<string, { payload: SchemaLike; response: SchemaLike }>;
}

/**
 * The generated `contract` value: its identity (sent in the handshake so the
 * server can detect drift), its zod schemas, and, for the type checker only,
 * its `Contract` type.
 */
export interface ContractValue<C extends AnyContract> {
  readonly fingerprint: string;
  readonly routes: string;
  readonly schemas?: Schemas;
  /** Never set: carries the contract's type. */
  readonly types?: C;
}

/** The payload of `$zocket.error`, as the contract types it (`kind` is its `ErrorKind` union). */
export type ZocketError<C extends AnyContract> = C["error"];

/** The error kinds of a contract: `"validation_failed" | "rejected" | ...`. */
export type ErrorKind<C extends AnyContract> = C["error"]["kind"];

/** Why the server refused the connection (it told the client in band, `zocket-refusal=message`). */
export interface Refusal<C extends AnyContract = AnyContract> {
  /** The HTTP status the refusal stands for: 400 invalid handshake data, 401/403 refused by the
   * server's `on_connect`, 409 contract drift, 429 too many connections, 503 full or shutting down. */
  status: number;
  /** The server's reason (`on_connect`'s message, "Invalid headers", ...). */
  message: string;
  /** For 400: which handshake field is wrong; for 409: which route differs (`path`) and how. */
  details: Issue[];
  /** The `$zocket.error` payload as the server sent it (`kind: "refused"`). */
  error: ZocketError<C>;
}

/**
 * Where the connection is. `idle`: made with `autoConnect: false` and not
 * connected yet (`connect()` starts it); `connecting`: opening (the first time, or again
 * after a drop); `open`; `refused`: the server refused the connection for a
 * reason a retry cannot fix (`client.refusal` says why; `reconnect()` tries
 * again); `closed`: `close()` was called, or reconnection gave up.
 */
export type ConnectionState = "idle" | "connecting" | "open" | "refused" | "closed";

/** What `onClose` hears of a connection that ended. */
export interface CloseInfo<C extends AnyContract = AnyContract> {
  /** The WebSocket close code: 1000 normal, 1001 server shutting down, 1006 dropped (or the
   * server went silent), 4000 + HTTP status for a refusal, 4001 credentials expired, ... */
  code: number;
  reason: string;
  /** Set when the server refused the connection. */
  refusal?: Refusal<C>;
  /** Whether the client will try again by itself. */
  willReconnect: boolean;
}

/** What `onOpen` hears. */
export interface OpenInfo {
  /** The connection resumed the previous session (server with recovery on). */
  recovered: boolean;
  /** The client id the server gave this session, when it says (recovery on). */
  clientId: string | undefined;
}

/** Why a request failed: the `kind` of a `RequestError`. */
export type RequestFailure =
  /** No answer within the request's timeout (it may still have run, if it was sent). */
  | "timeout"
  /** The connection dropped after the request was sent and the session was not resumed: its
   * answer is lost (it may have run). */
  | "disconnected"
  /** `client.close()` was called, or the client stopped (refused, out of retries). Never sent. */
  | "closed"
  /** The server answered with an error: `error` holds it (`error.kind` says which). */
  | "server"
  /** The payload or the answer failed the contract's schema (`validate` option). */
  | "invalid"
  /** The send buffer was full while disconnected: the oldest waiting request was dropped, never sent. */
  | "dropped"
  /** The route refused with its own typed error (a Rust `Outcome`): `routeError` holds it, and
   * `client.isRouteError(e, route)` types it by the route. */
  | "route";

/** The typed error a request route refuses with (`never` for routes without one). */
export type RouteErrorOf<C extends AnyContract, K extends keyof C["requests"]> = C["requests"][K] extends {
  error: infer E;
}
  ? E
  : never;

// ---- route functions ---------------------------------------------------------------

type Head<K extends string> = K extends `${infer H}.${string}` ? H : K;
type Under<M, H extends string> = {
  [K in keyof M & string as K extends `${H}.${infer T}` ? T : never]: M[K];
};

/** `send.chat.send(payload)` */
export type NestedSend<M> = {
  readonly [H in Head<keyof M & string>]: (H extends keyof M ? (payload: M[H]) => void : unknown) &
    NestedSend<Under<M, H>>;
};
/** `on.chat.onMessage(callback)` */
export type NestedOn<M> = {
  readonly [H in Head<keyof M & string>]: (H extends keyof M
    ? (callback: (payload: M[H]) => void) => () => void
    : unknown) &
    NestedOn<Under<M, H>>;
};
type PayloadOf<T> = T extends { payload: infer P } ? P : never;
type ResponseOf<T> = T extends { response: infer A } ? A : never;
/** `request.chat.rooms(payload)` */
export type NestedRequest<M> = {
  readonly [H in Head<keyof M & string>]: (H extends keyof M
    ? (payload: PayloadOf<M[H]>, options?: RequestOptions) => Promise<ResponseOf<M[H]>>
    : unknown) &
    NestedRequest<Under<M, H>>;
};

/** Options of one request. */
export interface RequestOptions {
  /** How long to wait for the answer, ms, counted from the call (default: the client's `requestTimeout`). */
  timeout?: number;
}

export type SendFn<C extends AnyContract> = (<K extends keyof C["incoming"] & string>(
  route: K,
  payload: C["incoming"][K],
) => void) &
  NestedSend<C["incoming"]>;
export type OnFn<C extends AnyContract> = (<K extends keyof C["outgoing"] & string>(
  route: K,
  callback: (payload: C["outgoing"][K]) => void,
) => () => void) &
  NestedOn<C["outgoing"]>;
export type RequestFn<C extends AnyContract> = (<K extends keyof C["requests"] & string>(
  route: K,
  payload: C["requests"][K]["payload"],
  options?: RequestOptions,
) => Promise<C["requests"][K]["response"]>) &
  NestedRequest<C["requests"]>;

/** Answers the server's question on a `clientRequests` route. */
export type QuestionHandler<C extends AnyContract, K extends keyof C["clientRequests"]> = (
  payload: C["clientRequests"][K]["payload"],
) => C["clientRequests"][K]["response"] | Promise<C["clientRequests"][K]["response"]>;

// ---- options -----------------------------------------------------------------------

/** Reconnection: exponential backoff with jitter (Zocket's defaults). */
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

/** The client's liveness check (browsers cannot send WebSocket pings). */
export interface PingOptions {
  /** Send `$zocket.ping` this often, ms (default 20000). */
  interval?: number;
  /** A server silent this long, ms, counts as gone: the client reconnects (default 45000). */
  timeout?: number;
}

/**
 * A WebSocket class: the platform's (`globalThis.WebSocket` in browsers,
 * Deno, Bun and Node 22+) or the `ws` package's. Only what the client uses
 * is checked; methods are compared loosely so both fit without a cast.
 */
export type WebSocketClass = new (url: string) => {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
};

/** A value that is not a function: keeps `headers: () => ...` from passing as the object form. */
interface NotAFunction {
  readonly call?: never;
  readonly apply?: never;
  readonly bind?: never;
}

/**
 * The handshake values: an object of the contract's `Handshake` type, or a
 * function that makes one (called before every connection, and again when the
 * server warns that credentials expire: its values then go on `$zocket.auth`).
 */
export type HeadersOption<H> = (H & NotAFunction) | (() => H | Promise<H>);

/** `headers` is required when the contract's handshake has a required field. */
export type HeadersField<H> = {} extends H ? { headers?: HeadersOption<H> } : { headers: HeadersOption<H> };

/** Options of `createClient`, beside `headers`. */
export interface BaseOptions<C extends AnyContract> {
  /** The generated `contract` value: types the client, and is sent so the server can detect drift. */
  contract: ContractValue<C>;
  /** The WebSocket class (default `globalThis.WebSocket`; in Node 20 pass `WebSocket` from `ws`). */
  WebSocket?: WebSocketClass;
  /** `false` turns reconnection off. */
  reconnect?: ReconnectOptions | false;
  /**
   * Whether to keep retrying after the server refused the connection. By default 408, 429 and 5xx
   * are retried (full, shutting down, overloaded) and the rest stop the client in state `refused`
   * (400 invalid handshake data, 401/403 refused by `on_connect`, 409 contract drift).
   */
  retryRefused?: (refusal: Refusal<C>) => boolean;
  /** Time a request waits for its answer, ms (default 10000), including time spent waiting for a connection. */
  requestTimeout?: number;
  /** Time one connection attempt may take, ms (default 10000). */
  connectTimeout?: number;
  /** Messages waiting for a connection (default 100); beyond it the oldest is dropped. */
  bufferSize?: number;
  /** The liveness check; `false` turns it off. */
  ping?: PingOptions | false;
  /**
   * Check payloads with the contract's zod schemas (off by default): `"incoming"` what the server
   * sends (invalid ones go to `onError` instead of listeners), `"outgoing"` what this client sends
   * (an invalid send throws, an invalid request is rejected), `"both"`.
   */
  validate?: "incoming" | "outgoing" | "both";
  /**
   * Connect at once (default `true`). With `false` the client opens no socket until `connect()`:
   * for a client made during rendering (React) or on a server (no socket there, and no
   * `WebSocket` class needed until then).
   */
  autoConnect?: boolean;
}

/** Options of `createClient`. */
export type ClientOptions<C extends AnyContract> = BaseOptions<C> & HeadersField<NoInfer<C["handshake"]>>;

// ---- the client ----------------------------------------------------------------------

/** A typed client of a zocket server. */
export interface ZocketClient<C extends AnyContract> {
  /** Sends on an incoming route; waits in a bounded buffer while disconnected. */
  readonly send: SendFn<C>;
  /** Listens on an outgoing route; returns the function that stops listening. */
  readonly on: OnFn<C>;
  /** Asks on a request route; settles once: the answer, or a `RequestError`. Sent at most once. */
  readonly request: RequestFn<C>;
  /** Answers the server's questions on a `clientRequests` route (one handler per route; a thrown
   * error refuses with its message). Returns the function that removes the handler. */
  onRequest<K extends keyof C["clientRequests"] & string>(route: K, handler: QuestionHandler<C, K>): () => void;
  /** Whether `error` is `route`'s own refusal (a `RequestError` of kind `"route"`); narrows its
   * `routeError` to the route's error type: `if (client.isRouteError(e, "chat.topic")) e.routeError.reason`. */
  isRouteError<K extends keyof C["requests"] & string>(
    error: unknown,
    route: K,
  ): error is RequestError<C> & { kind: "route"; routeError: RouteErrorOf<C, K> };
  /** Listens for `$zocket.error` not tied to a request (a rejected message, a validation failure). */
  onError(callback: (error: ZocketError<C>) => void): () => void;
  /** Listens for state changes. */
  onState(callback: (state: ConnectionState) => void): () => void;
  /** Listens for every connection that opens. */
  onOpen(callback: (info: OpenInfo) => void): () => void;
  /** Listens for every connection that ends, with its close code and, if refused, the refusal. */
  onClose(callback: (info: CloseInfo<C>) => void): () => void;
  /** The current state. */
  readonly state: ConnectionState;
  /** The refusal that stopped the client (state `refused`), or the last one retried. */
  readonly refusal: Refusal<C> | undefined;
  /** Whether the current connection resumed the previous session (server with recovery on). */
  readonly recovered: boolean;
  /** The client id the server gave this session (servers with recovery on), if known. */
  readonly clientId: string | undefined;
  /** Resolves when the client is open (at once if it is); rejects if it is refused or closed first. */
  opened(): Promise<void>;
  /** Starts connecting, if the client was made with `autoConnect: false` and has not started
   * (does nothing otherwise). Throws if no WebSocket class is available. */
  connect(): void;
  /** Drops the connection and connects again at once (also from `refused`). */
  reconnect(): void;
  /** Closes for good: no reconnection; waiting requests fail with `closed`. */
  close(): void;
}
