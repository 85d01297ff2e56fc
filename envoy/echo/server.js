// Tiny upstream for the demo stack and the e2e tests: answers every request with the method,
// URL and request headers it received, as JSON (and each x-echo-set-cookie request line as a
// Set-Cookie). No dependencies (node:http only).
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT || 8000);
const server = http.createServer((req, res) => {
  const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers }, null, 2);
  // An app that sets cookies of its own (one per x-echo-set-cookie line): the e2e tests check
  // that they reach the browser beside the session cookie kratos-ext-authz passes on.
  const ownCookies = req.headersDistinct['x-echo-set-cookie'] || [];
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', ...(ownCookies.length > 0 ? { 'set-cookie': ownCookies } : {}) });
  res.end(body);
});
server.listen(port, '0.0.0.0', () => console.log(`echo upstream listening on :${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
