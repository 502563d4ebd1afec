// Asks on a route that is not a request.
import { createClient } from "../client.js";
import { type Routes } from "../contract.js";
const client = createClient<Routes>("ws://127.0.0.1:1/ws");
void client.request("chat.join", { room: "lobby" });
