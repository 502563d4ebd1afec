// A request hook run with another route's payload.
import { createZocketReact } from "zocket-rs/react";
import { contract } from "../contract.js";
const Chat = createZocketReact(contract);
export function Who() {
  const who = Chat.useRequest("chat.who");
  void who.run({ rom: "lobby" });
  return null;
}
