// The operator inbox in the browser: the queue (live through server-sent events), one conversation, the
// actions. Plain DOM, no framework; every value from the server goes in as text, never as markup.
// Keys: j/k move in the queue, Enter opens, r replies, e resumes, Esc returns to the queue.

const config = JSON.parse(document.querySelector('meta[name="inbox-config"]').content);
const csrf = config.csrf;
const $ = (sel) => document.querySelector(sel);
const queueEl = $('#queue');
const detailEl = $('#detail');
const liveEl = $('#live');
const filtersEl = $('#filters');

const state = { items: [], index: -1, openId: undefined, detail: undefined, loading: undefined };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c);
  return node;
}

function announce(text) {
  liveEl.textContent = text;
}

function age(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

// background: a refresh the page makes after a live update, which the server does not count as use.
async function api(path, init = {}, o = {}) {
  const res = await fetch(path, {
    ...init,
    credentials: 'same-origin',
    headers: {
      ...(init.body ? { 'Content-Type': 'application/json' } : {}),
      ...(init.method === 'POST' ? { 'X-CSRF-Token': csrf } : {}),
      ...(o.background ? { 'X-Inbox-Background': '1' } : {}),
    },
  });
  if (res.status === 401) {
    window.location.assign('/inbox');
    throw new Error('signed out');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(body?.error?.message ?? `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

function filters() {
  const data = new FormData(filtersEl);
  const q = new URLSearchParams();
  for (const [k, v] of data) if (v) q.set(k, String(v));
  return q;
}

async function loadQueue(o = {}) {
  const body = await api(`/inbox/api/queue?${filters()}`, {}, { background: o.background });
  const selectedId = state.items[state.index]?.escalationId;
  state.items = body.escalations;
  const reason = $('#f-reason');
  const chosen = reason.value;
  reason.replaceChildren(
    el('option', { value: '', text: 'All' }),
    ...[...new Set([...body.reasons, chosen].filter(Boolean))].map((r) =>
      el('option', { value: r, text: r, selected: r === chosen }),
    ),
  );
  const keep = state.items.findIndex((e) => e.escalationId === selectedId);
  state.index = keep >= 0 ? keep : state.items.length ? 0 : -1;
  renderQueue();
}

function renderQueue() {
  $('#queue-empty').hidden = state.items.length > 0;
  // A live update re-renders the list: whoever was working in it keeps their place and focus.
  const hadFocus = queueEl.contains(document.activeElement);
  queueEl.replaceChildren(
    ...state.items.map((e, i) =>
      el(
        'li',
        {
          id: `q-${i}`,
          role: 'option',
          class: `item prio-${e.priority}${e.escalationId === state.openId ? ' open' : ''}`,
          'aria-selected': i === state.index ? 'true' : 'false',
          'data-id': e.escalationId,
          tabindex: i === state.index ? '0' : '-1',
          onclick: () => {
            select(i);
            void openEscalation(e.escalationId);
          },
        },
        el('span', { class: `badge prio-${e.priority}`, text: e.priority }),
        el('span', { class: 'reason', text: e.reason }),
        el('span', { class: 'who', text: `${e.tenant} / ${e.conversation}` }),
        el('span', { class: 'snippet', text: e.evidence?.snippet ? `“${e.evidence.snippet}”` : '' }),
        el('span', { class: 'meta', text: `${e.status} · ${age(e.at)} ago` }),
      ),
    ),
  );
  if (state.index >= 0) queueEl.setAttribute('aria-activedescendant', `q-${state.index}`);
  else queueEl.removeAttribute('aria-activedescendant');
  if (hadFocus) document.getElementById(`q-${state.index}`)?.focus();
}

function select(i, focus = true) {
  if (state.items.length === 0) return;
  state.index = Math.max(0, Math.min(state.items.length - 1, i));
  renderQueue();
  const node = document.getElementById(`q-${state.index}`);
  if (focus && node) {
    node.focus();
    node.scrollIntoView({ block: 'nearest' });
  }
}

function section(title, ...children) {
  return el('section', { class: 'card', 'aria-label': title }, el('h3', { text: title }), ...children);
}

function definitionList(entries) {
  if (entries.length === 0) return el('p', { class: 'empty', text: 'None.' });
  return el(
    'dl',
    { class: 'kv' },
    entries.flatMap(([k, v]) => [
      el('dt', { text: k }),
      el('dd', { text: typeof v === 'object' ? JSON.stringify(v) : String(v) }),
    ]),
  );
}

function trailRows(trail) {
  return trail
    .slice()
    .reverse()
    .map((t) => {
      const r = t.record ?? {};
      const actions = Array.isArray(r.actions) ? r.actions : r.action ? [r.action] : [];
      const rules = [
        ...new Set(actions.map((a) => a?.rule ?? a?.action?.rule).filter(Boolean)),
        ...(r.rule ? [r.rule] : []),
      ];
      const guards = [
        ...new Set(
          [r.guard, r.reason, ...actions.map((a) => a?.guard ?? a?.reason)].filter(
            (g) => typeof g === 'string',
          ),
        ),
      ];
      const classifiers = Array.isArray(r.classifiers)
        ? r.classifiers
            .filter(Boolean)
            .map(
              (c) =>
                `${c.classifier ?? '?'}: ${c.label}${c.confidence !== undefined ? ` ${Number(c.confidence).toFixed(2)}` : ''}`,
            )
        : [];
      return el(
        'tr',
        {},
        el('td', { text: new Date(t.time).toLocaleTimeString() }),
        el('td', { text: t.kind + (r.decision ? ` (${r.decision})` : '') }),
        el('td', { text: rules.join(', ') || '—' }),
        el('td', { text: r.rulesVersion ?? r.version ?? '—' }),
        el('td', { text: guards.join(', ') || '—' }),
        el('td', { text: classifiers.join('; ') || '—' }),
      );
    });
}

function renderDetail(d) {
  // A live update re-renders the conversation: a reply being typed survives it, focus included.
  const previous = document.getElementById('reply-text');
  const draft = previous && previous.dataset.id === d.escalation.escalationId ? previous.value : '';
  const typingReply = previous !== null && document.activeElement === previous;
  const e = d.escalation;
  const c = d.conversation;
  const open = e.status !== 'resolved';
  const resolveTitle = d.can.resolve ? undefined : `Your role cannot resolve: needs "reviewer"`;
  const dndTitle = d.can.dnd ? undefined : `Your role cannot set DND: needs "operator"`;
  const disabledResolve = !d.can.resolve || !open;
  const status = el('p', { id: 'action-status', class: 'status', role: 'alert', 'aria-live': 'assertive' });
  const replyText = el('textarea', {
    id: 'reply-text',
    'data-id': e.escalationId,
    name: 'text',
    rows: '3',
    required: true,
    disabled: disabledResolve,
    'aria-describedby': 'reply-help',
  });
  const act = async (what, path, body, done) => {
    status.textContent = `${what}…`;
    status.className = 'status';
    try {
      await api(path, { method: 'POST', body: JSON.stringify(body) });
      if (body.reply) replyText.value = '';
      status.textContent = done;
      status.className = 'status ok';
      announce(done);
      await Promise.all([loadQueue(), openEscalation(e.escalationId, { keepStatus: done })]);
    } catch (err) {
      const msg =
        err.status === 409
          ? `Conflict (409): ${err.message}`
          : err.status === 403
            ? `Not allowed (403): ${err.message}`
            : `Failed: ${err.message}`;
      status.textContent = msg;
      status.className = 'status error';
      if (err.status === 409) void loadQueue();
    }
  };
  const resolve = (outcome, extra = {}) =>
    act(
      outcome,
      `/inbox/api/escalations/${encodeURIComponent(e.escalationId)}/resolve`,
      // The status shown: if another operator changed it meanwhile, the server answers 409.
      { outcome, expectStatus: e.status, ...extra },
      outcome === 'reply'
        ? 'Reply sent; automation resumes'
        : `Escalation ${outcome === 'resume' ? 'resumed' : 'closed'}`,
    );
  const button = (label, key, onclick, disabled, title) =>
    el(
      'button',
      {
        type: onclick ? 'button' : 'submit',
        class: 'action',
        disabled,
        title,
        'aria-keyshortcuts': key,
        onclick,
      },
      label,
      key ? el('kbd', { 'aria-hidden': 'true', text: key }) : undefined,
    );

  const evidence = e.evidence ?? {};
  detailEl.replaceChildren(
    el('h2', { id: 'detail-title', text: `${e.reason} · ${e.tenant} / ${e.conversation}` }),
    el(
      'p',
      { class: 'summary' },
      el('span', { class: `badge prio-${e.priority}`, text: e.priority }),
      ` ${e.status} · opened ${age(e.at)} ago · ${e.escalationId}`,
    ),
    e.suggestedNext
      ? el('p', { class: 'next' }, el('strong', { text: 'Suggested: ' }), e.suggestedNext)
      : null,
    section(
      'Evidence',
      evidence.snippet
        ? el('blockquote', { class: 'snippet', text: evidence.snippet })
        : el('p', { class: 'empty', text: 'No snippet.' }),
      evidence.text
        ? el(
            'figure',
            { class: 'full' },
            el('figcaption', { text: 'Full message' }),
            el('blockquote', { class: 'full', text: evidence.text }),
          )
        : null,
      evidence.textUnavailable
        ? el('p', {
            class: 'empty',
            text:
              evidence.textUnavailable === 'gone'
                ? 'The full message is no longer stored.'
                : 'The full message could not be read just now; reopen the conversation to try again.',
          })
        : null,
      Array.isArray(evidence.labels) && evidence.labels.length
        ? el(
            'ul',
            { class: 'labels', 'aria-label': 'Classifier labels' },
            evidence.labels.map((l) =>
              el('li', {
                text: `${l.classifier}: ${l.label} ${Number(l.confidence).toFixed(2)}${l.detail ? ` (${l.detail})` : ''}`,
              }),
            ),
          )
        : null,
      definitionList(
        Object.entries(evidence)
          .filter(([k]) => !['snippet', 'text', 'textUnavailable', 'labels'].includes(k))
          .map(([k, v]) => (k === 'event' && v ? [k, `${v.type} ${v.id} (#${v.seq})`] : [k, v])),
      ),
    ),
    section(
      'Actions',
      el(
        'div',
        { class: 'actions' },
        button('Resume', 'e', () => resolve('resume'), disabledResolve, resolveTitle),
        button('Close', undefined, () => resolve('close'), disabledResolve, resolveTitle),
        button(
          'Add to DND',
          undefined,
          () =>
            act(
              'DND',
              `/inbox/api/escalations/${encodeURIComponent(e.escalationId)}/dnd`,
              {},
              'Fan put on do-not-disturb',
            ),
          !d.can.dnd || d.consent?.dnd,
          dndTitle,
        ),
      ),
      el(
        'form',
        {
          class: 'reply',
          onsubmit: (ev) => {
            ev.preventDefault();
            const text = replyText.value.trim();
            if (text) void resolve('reply', { reply: { text } });
          },
        },
        el('label', { for: 'reply-text', text: 'Reply to the fan (sent as the operator)' }),
        replyText,
        el('p', {
          id: 'reply-help',
          class: 'help',
          text: 'Sent once through the normal dispatch path; held automated messages are dropped.',
        }),
        button('Send reply', 'r', undefined, disabledResolve, resolveTitle),
      ),
      d.can.resolve
        ? null
        : el('p', {
            class: 'help',
            text: 'You are signed in as a viewer: resolving needs the reviewer role.',
          }),
      status,
    ),
    section(
      'Held actions',
      c.held.length === 0
        ? el('p', { class: 'empty', text: 'None.' })
        : el(
            'ul',
            { class: 'held' },
            c.held.map((h) =>
              el('li', {
                text: `${h.action?.rule ?? '?'} → ${h.action?.channel ?? '?'} (${h.action?.template ?? ''}), held ${age(new Date(h.heldAt).toISOString())} ago`,
              }),
            ),
          ),
    ),
    section(
      'Profile and segments',
      definitionList(Object.entries(c.profile)),
      el('p', {}, el('strong', { text: 'Segments: ' }), c.segments.length ? c.segments.join(', ') : 'none'),
      el('p', {}, el('strong', { text: 'Consent: ' }), d.consent?.dnd ? 'do not disturb' : 'allowed'),
    ),
    section(
      'Decision trail',
      el(
        'div',
        { class: 'scroll' },
        el(
          'table',
          { class: 'trail' },
          el('caption', { class: 'sr-only', text: 'Decision trail, newest first' }),
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ...['Time', 'Record', 'Rule', 'Rules version', 'Guards', 'Classifiers'].map((h) =>
                el('th', { scope: 'col', text: h }),
              ),
            ),
          ),
          el('tbody', {}, trailRows(c.trail)),
        ),
      ),
    ),
  );
  replyText.value = draft;
  if (typingReply && !replyText.disabled) replyText.focus();
}

async function openEscalation(id, o = {}) {
  state.openId = id;
  const seq = Symbol(id);
  state.loading = seq;
  try {
    const d = await api(`/inbox/api/escalations/${encodeURIComponent(id)}`, {}, { background: o.background });
    if (state.loading !== seq) return;
    state.detail = d;
    renderDetail(d);
    renderQueue();
    if (o.keepStatus) {
      const s = $('#action-status');
      s.textContent = o.keepStatus;
      s.className = 'status ok';
    }
    if (!o.keepStatus) detailEl.focus();
  } catch (err) {
    detailEl.replaceChildren(
      el('p', { class: 'status error', role: 'alert', text: `Could not open: ${err.message}` }),
    );
  }
}

function typing(target) {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))
  );
}

document.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === 'Escape') {
    select(state.index);
    return;
  }
  if (typing(ev.target)) return;
  if (ev.key === 'j') {
    ev.preventDefault();
    select(state.index + 1);
  } else if (ev.key === 'k') {
    ev.preventDefault();
    select(state.index - 1);
  } else if (ev.key === 'Enter' && ev.target instanceof HTMLElement && ev.target.closest('#queue')) {
    ev.preventDefault();
    const item = state.items[state.index];
    if (item) void openEscalation(item.escalationId);
  } else if (ev.key === 'r') {
    const item = state.items[state.index];
    if (!item) return;
    ev.preventDefault();
    const focusReply = () => document.getElementById('reply-text')?.focus();
    if (state.openId === item.escalationId && state.detail) focusReply();
    else void openEscalation(item.escalationId).then(focusReply);
  } else if (ev.key === 'e') {
    const btn = [...detailEl.querySelectorAll('button.action')].find(
      (b) => b.getAttribute('aria-keyshortcuts') === 'e',
    );
    if (btn && !btn.disabled) {
      ev.preventDefault();
      btn.click();
    }
  }
});

filtersEl.addEventListener('change', () => void loadQueue());

let refresh;
function connectLive() {
  const source = new EventSource('/inbox/api/events');
  source.addEventListener('ready', (ev) => {
    document.body.dataset.live = JSON.parse(ev.data).live ? 'on' : 'off';
    void loadQueue({ background: true });
  });
  source.addEventListener('change', (ev) => {
    const c = JSON.parse(ev.data);
    if (c.kind === 'escalation')
      announce(`New or raised escalation: ${c.reason} (${c.tenant}, ${c.priority})`);
    clearTimeout(refresh);
    refresh = setTimeout(() => {
      void loadQueue({ background: true });
      if (state.openId === c.escalationId)
        void openEscalation(c.escalationId, {
          keepStatus: $('#action-status')?.textContent || ' ',
          background: true,
        });
    }, 150);
  });
  source.addEventListener('error', () => {
    document.body.dataset.live = 'off';
  });
}

void loadQueue().then(() => {
  document.body.dataset.ready = 'true';
  if (state.index >= 0) queueEl.querySelector('[tabindex="0"]')?.focus();
});
connectLive();
