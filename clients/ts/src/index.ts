/**
 * zocket-rs: the typed TypeScript client of zocket servers (and of other
 * servers speaking the Zocket wire protocol).
 *
 * Its one type comes from the contract zocket generates from the Rust router
 * (`Contract::typescript()`): pass the generated `contract` value and
 *
 * - `client.send("chat.send", payload)` compiles only for incoming routes, with their payload;
 * - `client.on("chat.onMessage", cb)` only for outgoing routes, `cb` getting their payload;
 * - `client.request("chat.rooms", payload)` only for request routes, with a typed answer;
 * - `client.onRequest("chat.poked", handler)` only for the server's questions, with a typed answer;
 * - the handshake values (`headers`) have the contract's handshake type;
 * - errors carry the contract's `ErrorKind` union;
 *
 * and the same through nested names, as the original Zocket client is used:
 * `client.send.chat.send(payload)`, `client.on.chat.onMessage(cb)`.
 *
 * @module
 */
export { createClient, RequestError, ValidationError, transientRefusal } from "./client.js";
export type {
  AnyContract,
  BaseOptions,
  ClientOptions,
  CloseInfo,
  ConnectionState,
  ContractValue,
  ErrorKind,
  HeadersField,
  HeadersOption,
  Issue,
  NestedOn,
  NestedRequest,
  NestedSend,
  OnFn,
  OpenInfo,
  PingOptions,
  QuestionHandler,
  ReconnectOptions,
  Refusal,
  RouteErrorOf,
  RequestFailure,
  RequestFn,
  RequestOptions,
  SchemaLike,
  Schemas,
  SendFn,
  WebSocketClass,
  ZocketClient,
  ZocketError,
} from "./types.js";
