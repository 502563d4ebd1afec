// A misspelled route in a hook.
import { createZocketReact } from "zocket-rs/react";
import { contract } from "../contract.js";
const Chat = createZocketReact(contract);
export function Messages() {
  Chat.useOn("chat.onMesage", (m) => console.log(m));
  return null;
}
