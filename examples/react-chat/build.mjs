// Bundles the app with esbuild (pinned in clients/ts/package.json):
// node build.mjs <outdir>. Run from a folder whose node_modules holds
// react, react-dom, zod, esbuild and zocket-rs (the test makes one).
import * as esbuild from "esbuild";

const outdir = process.argv[2] ?? "dist";
await esbuild.build({
  entryPoints: ["main.tsx"],
  bundle: true,
  format: "esm",
  outfile: `${outdir}/app.js`,
  jsx: "automatic",
  target: "es2022",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
