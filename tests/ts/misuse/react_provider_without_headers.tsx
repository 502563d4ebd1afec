// A provider without the handshake values the contract requires.
import { createZocketReact } from "zocket-rs/react";
import { contract } from "../contract.js";
const Chat = createZocketReact(contract);
export const App = () => <Chat.Provider url="ws://127.0.0.1:1/ws">{null}</Chat.Provider>;
