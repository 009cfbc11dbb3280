// Starts `kostyorc lsp` for .kostyor files; everything else is the server's.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

// `${workspaceFolder}` in a setting: VS Code leaves expanding it to the extension.
function expand(value) {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? "";
  return value.replace(/\$\{workspaceFolder\}/g, folder);
}

function activate(context) {
  const config = vscode.workspace.getConfiguration("kostyor");
  const command = expand(config.get("server.path") || "kostyorc");
  const server = { command, args: ["lsp"], transport: TransportKind.stdio };
  const options = {
    documentSelector: [
      { scheme: "file", language: "kostyor" },
      { scheme: "untitled", language: "kostyor" },
    ],
    initializationOptions: {
      inventory: config.get("inventory") || null,
      strategy: config.get("strategy") || null,
    },
    synchronize: { configurationSection: "kostyor" },
  };
  client = new LanguageClient("kostyor", "Kostyor spec language server", server, options);
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
