// The GraphQL-over-HTTP audit of the `graphql-http` package (auditServer) against a running `bpf serve`.
//
//   node .ci/graphql_http_audit.mjs URL            # e.g. http://127.0.0.1:8000/graphql
//
// The token comes from BPF_AUDIT_TOKEN and is sent as `Authorization: Bearer TOKEN` with every request:
// every GraphQL request to bpf needs one, and the audit itself knows nothing of authentication.
// graphql-http and graphql are looked up in BPF_AUDIT_NODE_MODULES if set (a folder holding
// node_modules/), else next to this script (.ci/node_modules, gitignored), where .ci/run installs them:
//   npm install --no-save --prefix .ci graphql-http graphql
//
// Prints one line per audit and exits 0 only if every audit is `ok` (no warning, no error), 1 otherwise,
// 2 for a bad call.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const url = process.argv[2];
const token = process.env.BPF_AUDIT_TOKEN;
if (!url || !token) {
  console.error('usage: BPF_AUDIT_TOKEN=TOKEN node .ci/graphql_http_audit.mjs URL');
  process.exit(2);
}
const modules = process.env.BPF_AUDIT_NODE_MODULES || path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(modules, 'package.json'));
const { auditServer } = require('graphql-http');

// The audit's own requests, with the token added (a Headers object, a plain object or none at all).
function fetchWithToken(input, init = {}) {
  const headers = new Headers(init.headers || {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: fetchWithToken });
let failed = 0;
for (const result of results) {
  const ok = result.status === 'ok';
  if (!ok) failed += 1;
  let line = `${result.status.padEnd(6)} ${result.id} ${result.name}`;
  if (!ok) {
    let body = '';
    try { body = await result.response.text(); } catch { /* the body was read already */ }
    line += `\n       ${result.reason}\n       HTTP ${result.response.status} ` +
      `${result.response.headers.get('content-type')}: ${body.slice(0, 300)}`;
  }
  console.log(line);
}
const ok = results.length - failed;
console.log(`graphql-http audit: ${ok}/${results.length} ok`);
process.exit(failed === 0 ? 0 : 1);
