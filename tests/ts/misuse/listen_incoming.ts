// Listens on an incoming route.
import { createClient } from "../client.js";
import { type Routes } from "../contract.js";
const client = createClient<Routes>("ws://127.0.0.1:1/ws");
client.on("chat.send", (p) => console.log(p));
