// Entry point: ?name=carol&server=ws://127.0.0.1:3000/ws (defaults: a random
// guest name, and the page's own host).
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.js";

const params = new URLSearchParams(location.search);
const server = params.get("server") ?? `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const name = params.get("name") ?? `guest${Math.floor(Math.random() * 1000)}`;

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App server={server} name={name} />
  </StrictMode>,
);
