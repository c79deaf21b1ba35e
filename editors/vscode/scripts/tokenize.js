// Tokenise files with a real TextMate engine (vscode-textmate on vscode-oniguruma), as VS Code does.
//
//   node scripts/tokenize.js GRAMMAR_DIR FILE...
//
// Prints JSON: for each file, its lines' tokens ([start, end, scopes]) and whether a multi-line rule
// was still open at the end. tests/editors/ drives it.
"use strict";

const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

async function main() {
  const [grammarDir, ...files] = process.argv.slice(2);
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      const file = { "source.bpf": "bpf.tmLanguage.json", "source.bpft": "bpft.tmLanguage.json" }[scopeName];
      if (!file) return null;
      const full = path.join(grammarDir, file);
      return vsctm.parseRawGrammar(fs.readFileSync(full, "utf8"), full);
    },
  });
  const out = [];
  for (const file of files) {
    const scope = file.endsWith(".bpft") ? "source.bpft" : "source.bpf";
    const grammar = await registry.loadGrammar(scope);
    let stack = vsctm.INITIAL;
    const lines = [];
    for (const line of fs.readFileSync(file, "utf8").split(/\r?\n/)) {
      const result = grammar.tokenizeLine(line, stack);
      lines.push(result.tokens.map((t) => [t.startIndex, Math.min(t.endIndex, line.length), t.scopes]));
      stack = result.ruleStack;
    }
    out.push({ file, lines, openAtEnd: stack.depth > 1 });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
