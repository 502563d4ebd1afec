// A DOM for React Testing Library in Node: jsdom's window, its properties made global.
// Imported first by the React tests.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { JSDOM } = require("jsdom") as {
  JSDOM: new (html: string, options: object) => { window: Window & Record<string, unknown> };
};
const dom = new JSDOM("<!doctype html><html><body></body></html>", { url: "http://localhost/", pretendToBeVisual: true });
const g = globalThis as unknown as Record<string, unknown>;
for (const key of Object.getOwnPropertyNames(dom.window)) {
  if (!(key in g)) g[key] = dom.window[key];
}
g.window = dom.window;
g.document = dom.window.document;
Object.defineProperty(globalThis, "navigator", { value: dom.window.navigator, configurable: true });
// React's act() checks this flag to know it runs in a test.
g.IS_REACT_ACT_ENVIRONMENT = true;
