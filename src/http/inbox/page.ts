/**
 * The inbox's two HTML documents: the sign-in form and the app shell the script fills in. Everything
 * interpolated is escaped; no inline script or style (the Content-Security-Policy forbids them).
 */
import type { Operator } from '../operators.js';

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

function document(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/inbox/assets/inbox.css">
${head}
</head>
<body>
${body}
</body>
</html>
`;
}

export function signInPage(o: { pre: string; error?: string }): string {
  return document(
    'Sign in · Parley inbox',
    `<main class="signin">
  <h1>Parley inbox</h1>
  <form method="post" action="/inbox/sign-in" aria-describedby="signin-help">
    <input type="hidden" name="pre" value="${escapeHtml(o.pre)}">
    <label for="token">Operator token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    <p id="signin-help" class="help">An operator token from <code>operators:</code> in parley.yaml.</p>
    ${o.error ? `<p class="error" role="alert">${escapeHtml(o.error)}</p>` : ''}
    <button type="submit">Sign in</button>
  </form>
</main>`,
  );
}

export function appPage(o: { operator: Operator; csrf: string; tenants: readonly string[] }): string {
  const me = { name: o.operator.name, roles: o.operator.roles, tenants: o.tenants };
  return document(
    'Escalations · Parley inbox',
    `<a class="skip" href="#queue">Skip to the queue</a>
<header class="bar">
  <h1>Parley inbox</h1>
  <p class="who">Signed in as <strong>${escapeHtml(o.operator.name)}</strong>
    <span class="roles">(${escapeHtml(o.operator.roles.join(', '))})</span></p>
  <form method="post" action="/inbox/sign-out">
    <input type="hidden" name="csrf" value="${escapeHtml(o.csrf)}">
    <button type="submit" class="link">Sign out</button>
  </form>
</header>
<div id="live" class="live" role="status" aria-live="polite"></div>
<main class="layout">
  <section class="queue-pane" aria-labelledby="queue-title">
    <h2 id="queue-title">Queue</h2>
    <form id="filters" class="filters" aria-label="Filters">
      <label for="f-tenant">Tenant</label>
      <select id="f-tenant" name="tenant"><option value="">All</option>${o.tenants
        .map((t) => `<option value="${escapeHtml(t)}">${escapeHtml(t)}</option>`)
        .join('')}</select>
      <label for="f-reason">Reason</label>
      <select id="f-reason" name="reason"><option value="">All</option></select>
      <label for="f-status">Status</label>
      <select id="f-status" name="status">
        <option value="open" selected>Open</option><option value="closed">Closed</option>
        <option value="resolved">Resolved</option><option value="all">All</option>
      </select>
    </form>
    <p class="keys" id="keys-help">Keys: <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>Enter</kbd> open,
      <kbd>r</kbd> reply, <kbd>e</kbd> resume, <kbd>Esc</kbd> back to the queue.</p>
    <ul id="queue" class="queue" role="listbox" aria-label="Escalations, most urgent first"
      aria-describedby="keys-help" tabindex="0"></ul>
    <p id="queue-empty" class="empty" hidden>No escalations match.</p>
  </section>
  <section id="detail" class="detail" aria-labelledby="detail-title" tabindex="-1">
    <h2 id="detail-title">Conversation</h2>
    <p class="empty">Select an escalation to see its conversation.</p>
  </section>
</main>
<script src="/inbox/assets/inbox.js" defer></script>`,
    `<meta name="inbox-config" content="${escapeHtml(JSON.stringify({ me, csrf: o.csrf }))}">`,
  );
}
