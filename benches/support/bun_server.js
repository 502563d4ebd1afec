// The second baseline: a raw Bun server (Bun's WebSockets are uWebSockets),
// doing what the raw tokio-tungstenite baseline does: every text frame is
// written back, except that a frame starting with {"type":"join" subscribes
// the connection to the room and one starting with {"type":"say" goes to every
// other subscribed connection. No routing, no validation, no JSON parsing.
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, server) {
    if (server.upgrade(req)) return undefined;
    return new Response("WebSocket only", { status: 400 });
  },
  websocket: {
    maxPayloadLength: 1 << 20,
    idleTimeout: 0,
    perMessageDeflate: false,
    backpressureLimit: 64 << 20,
    message(ws, msg) {
      if (typeof msg === "string") {
        if (msg.startsWith('{"type":"join"')) return void ws.subscribe("r");
        if (msg.startsWith('{"type":"say"')) return void ws.publish("r", msg);
      }
      ws.send(msg);
    },
  },
});
console.log(`LISTENING ${server.port}`);
