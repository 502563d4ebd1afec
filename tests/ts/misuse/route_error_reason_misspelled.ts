// Matches chat.topic's route error on a reason the route does not have.
import WebSocket from "ws";
import { createClient } from "zocket-rs";
import { contract } from "../contract.js";
const client = createClient("ws://127.0.0.1:1/ws", { contract, headers: { name: "a" }, WebSocket });
client.request("chat.topic", { room: "lobby", topic: "x" }).catch((e: unknown) => {
  if (client.isRouteError(e, "chat.topic")) return e.routeError.reason === "roomFull";
  return false;
});
