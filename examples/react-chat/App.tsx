// The chat example's rooms, messages and online list as a React app on
// zocket-rs/react. Every route and payload is checked by tsc against the
// contract generated from the Rust router (contract.ts).
import { type FormEvent, useEffect, useState } from "react";
import { createZocketReact } from "zocket-rs/react";
import { contract } from "./contract.js";

export const Chat = createZocketReact(contract);

export function App({ server, name }: { server: string; name: string }) {
  return (
    <Chat.Provider url={server} headers={{ name }}>
      <h1>zocket chat, in React</h1>
      <Status />
      <Room room="lobby" me={name} />
    </Chat.Provider>
  );
}

function Status() {
  const { state, refusal } = Chat.useConnection();
  return (
    <p>
      Status: <b id="status">{state}</b>
      {refusal && state === "refused" && <span className="error"> ({refusal.status}: {refusal.message})</span>}
    </p>
  );
}

function Room({ room, me }: { room: string; me: string }) {
  const client = Chat.useClient();
  const { state } = Chat.useConnection();
  const [lines, setLines] = useState<Array<{ key: number; text: string; system?: boolean }>>([]);
  const [online, setOnline] = useState<Record<string, number>>({});
  const [text, setText] = useState("");
  const who = Chat.useRequest("chat.who");
  const add = (line: string, system = false) => setLines((l) => [...l, { key: l.length, text: line, system }]);

  // (Re)join whenever the connection opens: a fresh session starts with no rooms.
  useEffect(() => {
    if (state !== "open") return;
    client.send("chat.join", { room });
    void who.run({ room }).then((w) => {
      if (w) setOnline(Object.fromEntries(Object.entries(w.online).map(([n, metas]) => [n, metas.length])));
    });
  }, [state, client, room, who.run]);

  Chat.useOn("chat.onMessage", (m) => m.room === room && add(`${m.name}: ${m.text}`));
  Chat.useOn("chat.onJoin", (m) => m.room === room && add(`${m.name} joined`, true));
  Chat.useOn("chat.onLeave", (m) => m.room === room && add(`${m.name} left`, true));
  Chat.useOn("chat.onPresence", (d) => {
    if (d.room !== room) return;
    setOnline((o) => {
      const next = { ...o };
      if (d.event === "leave") delete next[d.key];
      else next[d.key] = d.metas.length;
      return next;
    });
  });
  Chat.useQuestion("chat.poked", (q) => ({ reply: `${me} waves back at ${q.name}` }));

  const send = (e: FormEvent) => {
    e.preventDefault();
    if (text) client.send("chat.send", { room, text });
    setText("");
  };
  return (
    <section>
      <p>
        Online in {room}: <span id="online">{Object.keys(online).sort().join(", ")}</span>
      </p>
      <div id="messages">
        {lines.map((l) => (
          <div key={l.key} className={l.system ? "system" : undefined}>
            {l.text}
          </div>
        ))}
      </div>
      <form onSubmit={send}>
        <input id="text" value={text} onChange={(e) => setText(e.target.value)} placeholder="message" />
        <button id="send">Send</button>
      </form>
    </section>
  );
}
