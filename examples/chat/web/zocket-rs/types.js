/**
 * The types of the client: what a generated contract looks like, and the
 * typed functions, errors and events made from it. Nothing here exists at
 * run time.
 */
export {};
//# sourceMappingURL=types.js.map