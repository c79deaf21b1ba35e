// Before packaging: the TextMate grammars come from the repository's grammar/ folder, the one copy there is.
"use strict";

const fs = require("fs");
const path = require("path");

const source = path.resolve(__dirname, "..", "..", "..", "grammar");
const target = path.resolve(__dirname, "..", "syntaxes");
fs.mkdirSync(target, { recursive: true });
for (const name of ["bpf.tmLanguage.json", "bpft.tmLanguage.json"]) {
  fs.copyFileSync(path.join(source, name), path.join(target, name));
}
