// The bpf extension: the TextMate grammars (contributed in package.json) and a client for `bpf lsp`.
// Plain JavaScript, no build step: `npx @vscode/vsce package` makes the .vsix as it stands.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("bpf");
  const command = config.get("server.command", "bpf");
  const args = config.get("server.args", ["lsp"]);
  const serverOptions = {
    run: { command, args, transport: TransportKind.stdio },
    debug: { command, args, transport: TransportKind.stdio },
  };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "bpf" }, { scheme: "untitled", language: "bpf" }],
    synchronize: {
      // Files changed outside the editor (a checkout, a pull) are read again.
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.bpf"),
    },
  };
  client = new LanguageClient("bpf", "bpf language server", serverOptions, clientOptions);
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start().catch((err) => {
    vscode.window.showErrorMessage(
      `bpf: can't start \`${command} ${args.join(" ")}\` (${err.message}); set bpf.server.command to the bpf ` +
        "of your project's virtual environment."
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
