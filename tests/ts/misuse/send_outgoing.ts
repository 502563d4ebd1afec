// Sends on an outgoing route.
import { createClient } from "../client.js";
import { type Routes } from "../contract.js";
const client = createClient<Routes>("ws://127.0.0.1:1/ws");
client.send("chat.onMessage", { room: "lobby", name: "a", clientId: "1", text: "hi" });
