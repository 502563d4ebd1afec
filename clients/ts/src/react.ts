/**
 * React hooks for zocket-rs (`import { createZocketReact } from "zocket-rs/react"`).
 *
 * ```tsx
 * import { createZocketReact } from "zocket-rs/react";
 * import { contract } from "./contract.js";
 *
 * export const Chat = createZocketReact(contract); // once, at module level: every hook is typed
 *
 * function App() {
 *   return (
 *     <Chat.Provider url="ws://127.0.0.1:3000/ws" headers={{ name: "alice" }}>
 *       <Messages />
 *     </Chat.Provider>
 *   );
 * }
 * function Messages() {
 *   const [lines, setLines] = useState<string[]>([]);
 *   Chat.useOn("chat.onMessage", (m) => setLines((l) => [...l, `${m.name}: ${m.text}`]));
 *   const { state, refusal } = Chat.useConnection();
 *   const rooms = Chat.useRequest("chat.rooms");
 *   ...
 * }
 * ```
 *
 * The provider owns one client for its subtree: made once (its props are read on the first
 * render; give it a `key` to start over), connected in an effect (so server rendering opens no
 * socket), closed when the provider unmounts. Under StrictMode, whose development-only
 * unmount/remount would otherwise close and reopen it, the close waits a tick and the remount
 * cancels it: one socket. Listeners always call the latest handler without resubscribing.
 *
 * @module
 */
import {
  type ReactElement,
  type ReactNode,
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
  useSyncExternalStore,
} from "react";

import { type RequestError, createClient } from "./client.js";
import type {
  AnyContract,
  BaseOptions,
  ClientOptions,
  ConnectionState,
  ContractValue,
  HeadersField,
  QuestionHandler,
  Refusal,
  RequestOptions,
  ZocketClient,
} from "./types.js";

/** The provider's props: the URL, the client's options (read once), or a client of your own. */
export type ProviderProps<C extends AnyContract> = {
  /** `ws://host:port/path` of the server. */
  url: string;
  children?: ReactNode;
  /** A client made elsewhere: the provider shares it and neither connects nor closes it. */
  client?: ZocketClient<C>;
} & Omit<BaseOptions<C>, "contract" | "autoConnect"> &
  HeadersField<C["handshake"]>;

/** What `useConnection` returns. */
export interface ConnectionInfo<C extends AnyContract> {
  /** `idle` (server rendering, before the first effect), `connecting`, `open`, `refused`, `closed`. */
  state: ConnectionState;
  /** Why the server refused the connection, for state `refused` (and the last refusal retried). */
  refusal: Refusal<C> | undefined;
  /** Whether the current connection resumed the previous session. */
  recovered: boolean;
  /** The client id the server gave, when it says. */
  clientId: string | undefined;
}

/** What `useRequest` returns: the request's state (`status` with `data` or `error`), and `run`. */
export type RequestState<C extends AnyContract, P, R> = (
  | { status: "idle"; data: undefined; error: undefined }
  | { status: "loading"; data: R | undefined; error: undefined }
  | { status: "success"; data: R; error: undefined }
  | { status: "error"; data: undefined; error: RequestError<C> }
) & {
  /** Sends the request; resolves with the answer, or `undefined` when it failed (see `error`).
   * Never rejects. Only the latest call's outcome is kept; none after unmount. */
  run: (payload: P) => Promise<R | undefined>;
  isLoading: boolean;
};

/** The typed hooks of one contract (see the module's documentation). */
export interface ZocketReact<C extends AnyContract> {
  /** Owns one client for its subtree. */
  Provider: (props: ProviderProps<C>) => ReactElement;
  /** The provider's client (throws outside a provider). */
  useClient: () => ZocketClient<C>;
  /** Listens on an outgoing route while the component is mounted; always calls the latest `handler`. */
  useOn: <K extends keyof C["outgoing"] & string>(route: K, handler: (payload: C["outgoing"][K]) => void) => void;
  /** Answers the server's questions on a `clientRequests` route while the component is mounted. */
  useQuestion: <K extends keyof C["clientRequests"] & string>(route: K, handler: QuestionHandler<C, K>) => void;
  /** A request route's state (`idle` → `loading` → `success` | `error`) and `run(payload)`. */
  useRequest: <K extends keyof C["requests"] & string>(
    route: K,
    options?: RequestOptions,
  ) => RequestState<C, C["requests"][K]["payload"], C["requests"][K]["response"]>;
  /** The connection's state, refusal, session: re-renders when they change. */
  useConnection: () => ConnectionInfo<C>;
}

/** `useLayoutEffect` in a browser, `useEffect` where there is no DOM (no server-rendering warning). */
const useLatestEffect = typeof document === "undefined" ? useEffect : useLayoutEffect;

/** Keeps `value` in a ref updated after every render. */
function useLatest<T>(value: T): { readonly current: T } {
  const ref = useRef(value);
  useLatestEffect(() => {
    ref.current = value;
  });
  return ref;
}

/** Pending closes by client: StrictMode's remount cancels the close its unmount scheduled. */
const closing = new WeakMap<object, ReturnType<typeof setTimeout>>();

/** Makes the typed hooks of `contract`; call it once, at module level. */
export function createZocketReact<C extends AnyContract>(contract: ContractValue<C>): ZocketReact<C> {
  const Context = createContext<ZocketClient<C> | null>(null);

  function Provider(props: ProviderProps<C>): ReactElement {
    const [client] = useState(() => {
      if (props.client) return props.client;
      const { url, children: _children, client: _client, ...options } = props;
      return createClient(url, { ...options, contract, autoConnect: false } as ClientOptions<C>);
    });
    const own = props.client === undefined;
    useEffect(() => {
      if (!own) return;
      const pending = closing.get(client);
      if (pending !== undefined) {
        clearTimeout(pending);
        closing.delete(client);
      }
      client.connect();
      return () => {
        closing.set(
          client,
          setTimeout(() => {
            closing.delete(client);
            client.close();
          }, 0),
        );
      };
    }, [client, own]);
    return createElement(Context.Provider, { value: client }, props.children);
  }

  function useClient(): ZocketClient<C> {
    const client = useContext(Context);
    if (!client) throw new Error("zocket-rs/react: use the hooks inside the Provider of the same createZocketReact");
    return client;
  }

  function useOn<K extends keyof C["outgoing"] & string>(route: K, handler: (payload: C["outgoing"][K]) => void): void {
    const client = useClient();
    const latest = useLatest(handler);
    useEffect(() => {
      const on = client.on as unknown as (r: string, cb: (p: unknown) => void) => () => void;
      return on(route, (p) => latest.current(p as C["outgoing"][K]));
    }, [client, route, latest]);
  }

  function useQuestion<K extends keyof C["clientRequests"] & string>(route: K, handler: QuestionHandler<C, K>): void {
    const client = useClient();
    const latest = useLatest(handler);
    useEffect(() => client.onRequest(route, (q) => latest.current(q)), [client, route, latest]);
  }

  function useRequest<K extends keyof C["requests"] & string>(route: K, options?: RequestOptions) {
    type R = C["requests"][K]["response"];
    const client = useClient();
    const [state, setState] = useState<
      | { status: "idle"; data: undefined; error: undefined }
      | { status: "loading"; data: R | undefined; error: undefined }
      | { status: "success"; data: R; error: undefined }
      | { status: "error"; data: undefined; error: RequestError<C> }
    >({ status: "idle", data: undefined, error: undefined });
    const latestCall = useRef(0);
    const mounted = useRef(false);
    useEffect(() => {
      mounted.current = true;
      return () => {
        mounted.current = false;
      };
    }, []);
    const timeout = options?.timeout;
    const run = useCallback(
      async (payload: C["requests"][K]["payload"]): Promise<R | undefined> => {
        const call = ++latestCall.current;
        setState((s) => ({ status: "loading", data: s.data, error: undefined }));
        const ask = client.request as unknown as (r: string, p: unknown, o?: RequestOptions) => Promise<R>;
        try {
          const data = await ask(route, payload, timeout === undefined ? undefined : { timeout });
          if (mounted.current && call === latestCall.current) setState({ status: "success", data, error: undefined });
          return data;
        } catch (e) {
          if (mounted.current && call === latestCall.current) setState({ status: "error", data: undefined, error: e as RequestError<C> });
          return undefined;
        }
      },
      [client, route, timeout],
    );
    return { ...state, run, isLoading: state.status === "loading" };
  }

  function useConnection(): ConnectionInfo<C> {
    const client = useClient();
    const cache = useRef<ConnectionInfo<C> | null>(null);
    const subscribe = useCallback(
      (notify: () => void) => {
        const offs = [client.onState(notify), client.onOpen(notify), client.onClose(notify)];
        return () => offs.forEach((off) => off());
      },
      [client],
    );
    const snapshot = useCallback((): ConnectionInfo<C> => {
      const now = { state: client.state, refusal: client.refusal, recovered: client.recovered, clientId: client.clientId };
      const was = cache.current;
      if (was && was.state === now.state && was.refusal === now.refusal && was.recovered === now.recovered && was.clientId === now.clientId) {
        return was;
      }
      cache.current = now;
      return now;
    }, [client]);
    return useSyncExternalStore(subscribe, snapshot, snapshot);
  }

  return { Provider, useClient, useOn, useQuestion, useRequest, useConnection } as ZocketReact<C>;
}
