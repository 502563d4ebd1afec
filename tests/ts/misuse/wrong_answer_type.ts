// Expects another type of answer from a request.
import { createClient } from "../client.js";
import { type Routes } from "../contract.js";
const client = createClient<Routes>("ws://127.0.0.1:1/ws");
export const answer: Promise<{ rooms: number[] }> = client.request("chat.rooms", null);
