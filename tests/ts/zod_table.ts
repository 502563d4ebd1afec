// Runs the generated zod schemas over a table of payloads (a JSON file:
// [{route, payload}], route "$handshake" for the handshake data) and prints
// one verdict per case: true when zod accepts it.
import { readFileSync } from "node:fs";
import { HandshakeSchema, routeSchemas } from "./contract.js";

type Case = { route: string; payload: unknown };
const cases: Case[] = JSON.parse(readFileSync(process.argv[2]!, "utf8"));
const incoming = routeSchemas.incoming as Record<string, { safeParse(v: unknown): { success: boolean } }>;
const requests = routeSchemas.requests as Record<string, { payload: { safeParse(v: unknown): { success: boolean } } }>;
const verdicts = cases.map(({ route, payload }) => {
  const schema = route === "$handshake" ? HandshakeSchema : (incoming[route] ?? requests[route]?.payload);
  if (!schema) throw new Error(`no schema for ${route}`);
  return schema.safeParse(payload).success;
});
console.log(JSON.stringify(verdicts));
