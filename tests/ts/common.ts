// Helpers the scenarios share.
import { createInterface } from "node:readline";

export const WAIT = 10_000;

export function within<T>(what: string, p: Promise<T>, ms = WAIT): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)),
  ]);
}

export function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
/** Waits for the Rust test to write `word` on stdin. */
export async function waitFor(word: string): Promise<void> {
  for (;;) {
    const next = await lines.next();
    if (next.done) throw new Error(`stdin closed before ${word}`);
    if (next.value.trim() === word) return;
  }
}

/** Resolves the first time `subscribe`'s callback gets a value passing `test`. */
export function first<T>(what: string, subscribe: (cb: (v: T) => void) => () => void, test: (v: T) => boolean = () => true, ms = WAIT): Promise<T> {
  return within(
    what,
    new Promise<T>((resolve) => {
      const off = subscribe((v) => {
        if (test(v)) {
          off();
          resolve(v);
        }
      });
    }),
    ms,
  );
}
