// Demo login UI for the stack (not part of kratos-ext-authz): Kratos's browser flows redirect to
// selfservice.flows.*.ui_url (/ui/login, /ui/registration, /ui/settings, /ui/error), and this page
// renders any flow's ui.nodes as one plain HTML form posting straight back to Kratos through Envoy
// (password, TOTP with its QR code, recovery codes, one-time codes, WebAuthn script nodes).
// No dependencies (node:http and fetch only); everything it shows comes from Kratos's public API.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT || 4455);
const kratos = (process.env.KRATOS_PUBLIC_URL || 'http://kratos:4433').replace(/\/+$/, '');
const FLOW_TYPES = new Set(['login', 'registration', 'settings', 'recovery', 'verification']);

function escape(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function label(node) {
  return node.meta && node.meta.label ? node.meta.label.text : node.attributes.name || '';
}

function messages(list) {
  return (list || []).map((m) => `<p class="msg ${escape(m.type)}" data-id="${escape(m.id)}">${escape(m.text)}</p>`).join('');
}

function attribute(name, value) {
  if (value === undefined || value === null || value === false || value === '') return '';
  return value === true ? ` ${name}` : ` ${name}="${escape(value)}"`;
}

function renderNode(node) {
  const a = node.attributes || {};
  switch (a.node_type) {
    case 'input': {
      if (a.type === 'hidden') return `<input type="hidden"${attribute('name', a.name)}${attribute('value', a.value)}>`;
      if (a.type === 'submit' || a.type === 'button') {
        // WebAuthn buttons run Kratos's script instead of submitting: the inline onclick carries
        // the options; onclickTrigger names the function when there is no inline code.
        const trigger = a.onclick || a.onclickTrigger;
        const onclick = a.onclick || (a.onclickTrigger ? `window.${a.onclickTrigger} && window.${a.onclickTrigger}(); return false;` : undefined);
        return `<p><button type="${a.type === 'button' || trigger ? 'button' : 'submit'}"${attribute('name', a.name)}${attribute('value', a.value)}${attribute('onclick', onclick)}${attribute('disabled', a.disabled)}>${escape(label(node))}</button></p>${messages(node.messages)}`;
      }
      const checkbox = a.type === 'checkbox';
      return `<p><label>${escape(label(node))} <input${attribute('type', a.type)}${attribute('name', a.name)}${attribute('value', checkbox ? 'true' : a.value)}${attribute('required', a.required)}${attribute('autocomplete', a.autocomplete)}${attribute('disabled', a.disabled)}${attribute('pattern', a.pattern)}></label></p>${messages(node.messages)}`;
    }
    case 'img':
      return `<p>${escape(label(node))}<br><img${attribute('id', a.id)}${attribute('src', a.src)}${attribute('width', a.width)}${attribute('height', a.height)} alt="${escape(label(node))}"></p>`;
    case 'text': {
      const text = a.text || {};
      const secrets = text.context && Array.isArray(text.context.secrets) ? text.context.secrets : undefined;
      const body = secrets ? `<ul>${secrets.map((s) => `<li><code>${escape(s.text)}</code></li>`).join('')}</ul>` : `<code${attribute('id', a.id)}>${escape(text.text)}</code>`;
      return `<div class="text"${attribute('data-id', a.id)}><p>${escape(label(node))}</p>${body}</div>`;
    }
    case 'a':
      return `<p><a${attribute('href', a.href)}${attribute('id', a.id)}>${escape(a.title ? a.title.text : label(node))}</a></p>`;
    case 'script':
      return `<script${attribute('src', a.src)}${attribute('type', a.type)}${attribute('integrity', a.integrity)}${attribute('crossorigin', a.crossorigin)}${attribute('referrerpolicy', a.referrerpolicy)}${attribute('nonce', a.nonce)}${attribute('async', a.async)}${attribute('id', a.id)}></script>`;
    default:
      return '';
  }
}

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:sans-serif;max-width:36em;margin:2em auto}fieldset{margin:1em 0}.msg.error{color:#b00}</style></head>
<body><h1>${escape(title)}</h1>${body}
<p><a href="/ui/login">Log in</a> · <a href="/ui/registration">Register</a> · <a href="/ui/settings">Settings (TOTP, recovery codes, security keys)</a> · <a href="/app/">The app</a> · <a href="/self-service/logout/browser">Log out (JSON)</a></p></body></html>`;
}

function renderFlow(type, flow) {
  const ui = flow.ui || {};
  // One form per method group, each with the `default` group's nodes (csrf_token, identifier):
  // a single form would make, say, the password field `required` for the TOTP submit too.
  const groups = new Map();
  for (const node of ui.nodes || []) {
    const list = groups.get(node.group) || [];
    list.push(node);
    groups.set(node.group, list);
  }
  const shared = groups.get('default') || [];
  groups.delete('default');
  const entries = groups.size > 0 ? [...groups] : [['default', []]];
  const forms = entries.map(
    ([group, nodes]) =>
      `<form data-group="${escape(group)}" action="${escape(ui.action)}" method="${escape(ui.method || 'POST')}"><fieldset><legend>${escape(group)}</legend>${[...shared, ...nodes].map(renderNode).join('')}</fieldset></form>`,
  );
  const aal = flow.requested_aal === 'aal2' ? ' (second factor)' : '';
  return page(`${type[0].toUpperCase()}${type.slice(1)}${aal}`, `${messages(ui.messages)}${forms.join('')}`);
}

function send(res, status, headers, body) {
  res.writeHead(status, { 'cache-control': 'no-store', ...headers });
  res.end(body);
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://ui');
  const cookie = req.headers.cookie;
  const [, prefix, type] = url.pathname.split('/');
  if (prefix !== 'ui') return send(res, 404, { 'content-type': 'text/plain' }, 'not found\n');
  if (type === undefined || type === '' || type === 'welcome') {
    return send(res, 200, { 'content-type': 'text/html; charset=utf-8' }, page('kratos-ext-authz demo', '<p>Register or log in; then open the app.</p>'));
  }
  if (type === 'error') {
    const answer = await fetch(`${kratos}/self-service/errors?id=${encodeURIComponent(url.searchParams.get('id') || '')}`, { headers: { accept: 'application/json' } });
    const body = await answer.text();
    return send(res, 200, { 'content-type': 'text/html; charset=utf-8' }, page('Error', `<pre>${escape(body)}</pre>`));
  }
  if (!FLOW_TYPES.has(type)) return send(res, 404, { 'content-type': 'text/plain' }, 'not found\n');
  const flowId = url.searchParams.get('flow');
  // No flow yet (or an expired one): let Kratos start one; it redirects back here with ?flow=.
  const restart = () => {
    const query = new URLSearchParams();
    for (const key of ['aal', 'return_to', 'refresh']) if (url.searchParams.has(key)) query.set(key, url.searchParams.get(key));
    const q = query.toString();
    send(res, 303, { location: `/self-service/${type}/browser${q ? `?${q}` : ''}` }, '');
  };
  if (!flowId) return restart();
  const answer = await fetch(`${kratos}/self-service/${type}/flows?id=${encodeURIComponent(flowId)}`, { headers: { accept: 'application/json', ...(cookie ? { cookie } : {}) } });
  if (answer.status === 404 || answer.status === 410 || answer.status === 403) return restart();
  const flow = await answer.json();
  if (answer.status !== 200) return send(res, answer.status, { 'content-type': 'text/html; charset=utf-8' }, page('Kratos error', `<pre>${escape(JSON.stringify(flow, null, 2))}</pre>`));
  return send(res, 200, { 'content-type': 'text/html; charset=utf-8' }, renderFlow(type, flow));
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => send(res, 502, { 'content-type': 'text/plain' }, `Kratos unreachable: ${error.message}\n`));
});
server.listen(port, '0.0.0.0', () => console.log(`demo ui listening on :${port}, Kratos at ${kratos}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
