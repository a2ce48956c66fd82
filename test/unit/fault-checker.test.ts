import t from 'tap';
import {
  type AckedEvent,
  type ConversationCounters,
  check,
  type Delivery,
  firstInversion,
  formatReport,
  type History,
} from '../faults/checker.js';

const T = 'acme';

function acked(conversation: string, n: number, extra: Partial<AckedEvent> = {}): AckedEvent {
  return {
    tenant: T,
    conversation,
    id: `${conversation}-e${n}`,
    n,
    ackedAt: 1000 + n,
    path: 'http',
    ...extra,
  };
}

let index = 0;
function delivery(conversation: string, n: number, extra: Partial<Delivery> = {}): Delivery {
  index++;
  return {
    webhookId: `${T}.${conversation}.${n}.0`,
    tenant: T,
    conversation,
    eventId: `${conversation}-e${n}`,
    n,
    receivedAt: 5000 + index,
    index,
    signatureValid: true,
    accepted: true,
    ...extra,
  };
}

function counters(conversation: string, count: number): ConversationCounters {
  return { tenant: T, conversation, counts: { 'message.received': count, 'action.sent': count } };
}

/** Two conversations, three events each, every one delivered once in order, state matching. */
function clean(): History {
  return {
    acked: [acked('c1', 0), acked('c1', 1), acked('c1', 2), acked('c2', 0), acked('c2', 1), acked('c2', 2)],
    deliveries: [
      delivery('c1', 0),
      delivery('c2', 0),
      delivery('c1', 1),
      delivery('c2', 1),
      delivery('c2', 2),
      delivery('c1', 2),
    ],
    states: [counters('c1', 3), counters('c2', 3)],
  };
}

const kinds = (h: History, o = {}) => check(h, o).violations.map((v) => v.kind);

t.test('fault checker - a clean history passes', async (t) => {
  const report = check(clean(), { redeliveryIsViolation: true });
  t.ok(report.ok, formatReport(report));
  t.same(report.summary, {
    events: 6,
    requests: 6,
    deliveries: 6,
    lost: 0,
    duplicates: 0,
    redeliveries: 0,
    orderViolations: 0,
    badSignatures: 0,
    phantoms: 0,
    stateMismatches: 0,
  });
  t.match(formatReport(report), /^OK: 6 events, 6 deliveries/);
});

t.test(
  'fault checker - an acknowledged event never delivered is lost, with its conversation and ids',
  async (t) => {
    const h = clean();
    h.deliveries = h.deliveries.filter((d) => !(d.conversation === 'c2' && d.n === 1));
    const report = check(h);
    t.notOk(report.ok);
    t.equal(report.summary.lost, 1);
    t.same(
      report.violations.map((v) => [v.kind, v.conversation, v.ids]),
      [['lost', 'c2', ['c2-e1']]],
    );
    t.match(report.violations[0]!.message, /n = 1/);
    t.match(formatReport(report), /FAILED.*lost 1/);
  },
);

t.test('fault checker - a refused attempt is not a delivery', async (t) => {
  const h = clean();
  const last = h.deliveries.findIndex((d) => d.conversation === 'c1' && d.n === 2);
  h.deliveries[last] = { ...h.deliveries[last]!, accepted: false };
  t.same(kinds(h), ['lost']);
  // The retry that got through makes it whole again.
  h.deliveries.push(delivery('c1', 2));
  t.same(kinds(h, { redeliveryIsViolation: true }), []);
});

t.test('fault checker - exempt conversations may withhold sends, others may not', async (t) => {
  const h = clean();
  h.deliveries = h.deliveries.filter((d) => d.conversation !== 'c2');
  t.same(kinds(h), ['lost']);
  h.exempt = ['acme.c2'];
  t.same(kinds(h), []);
});

t.test(
  'fault checker - the same webhook-id accepted twice is a redelivery, a violation only when asked',
  async (t) => {
    const h = clean();
    h.deliveries.push(delivery('c1', 1));
    const lenient = check(h);
    t.ok(lenient.ok, 'a receiver dedupes by webhook-id');
    t.equal(lenient.summary.redeliveries, 1);
    t.same(
      lenient.notes.map((v) => [v.kind, v.ids]),
      [['redelivery', ['acme.c1.1.0']]],
    );
    const strict = check(h, { redeliveryIsViolation: true });
    t.notOk(strict.ok);
    t.same(
      strict.violations.map((v) => v.kind),
      ['redelivery'],
    );
    t.equal(strict.summary.duplicates, 0, 'a redelivery is not a duplicate');
    t.equal(strict.summary.orderViolations, 0, 'order is judged on first deliveries');
  },
);

t.test('fault checker - one source event under two action IDs is a duplicate', async (t) => {
  const h = clean();
  h.deliveries.push(delivery('c2', 2, { webhookId: 'acme.c2.99.0' }));
  const report = check(h);
  t.notOk(report.ok);
  t.equal(report.summary.duplicates, 1);
  t.same(
    report.violations.map((v) => [v.kind, v.conversation, v.ids]),
    [['duplicate', 'c2', ['c2-e2']]],
  );
  t.match(report.violations[0]!.message, /acme\.c2\.2\.0, acme\.c2\.99\.0/);
});

t.test(
  'fault checker - first deliveries out of n order are an order violation naming the pair',
  async (t) => {
    const h = clean();
    // c1 receives 0, 2, 1.
    h.deliveries = [
      delivery('c1', 0),
      delivery('c1', 2),
      delivery('c1', 1),
      delivery('c2', 0),
      delivery('c2', 1),
      delivery('c2', 2),
    ];
    const report = check(h);
    t.notOk(report.ok);
    t.equal(report.summary.orderViolations, 1);
    const [v] = report.violations;
    t.equal(v!.kind, 'order');
    t.equal(v!.conversation, 'c1');
    t.same(v!.ids, ['c1-e2', 'c1-e1']);
    t.match(v!.message, /n = 0, 2, 1/);
  },
);

t.test('fault checker - ties in receive time are ordered by arrival index', async (t) => {
  const h = clean();
  h.deliveries = [
    delivery('c1', 0, { receivedAt: 1, index: 2 }),
    delivery('c1', 1, { receivedAt: 1, index: 1 }),
    delivery('c1', 2, { receivedAt: 2, index: 3 }),
    delivery('c2', 0),
    delivery('c2', 1),
    delivery('c2', 2),
  ];
  t.same(kinds(h), ['order']);
});

t.test(
  'fault checker - a redelivery of an older action after newer ones is not an order violation',
  async (t) => {
    const h = clean();
    h.deliveries.push(delivery('c1', 0));
    t.same(kinds(h), []);
  },
);

t.test(
  'fault checker - a signature that does not verify is reported even on a refused attempt',
  async (t) => {
    const h = clean();
    h.deliveries[0] = { ...h.deliveries[0]!, signatureValid: false };
    t.same(kinds(h), ['bad-signature']);
    const h2 = clean();
    h2.deliveries.push(delivery('c1', 1, { signatureValid: false, accepted: false }));
    t.same(kinds(h2), ['bad-signature']);
  },
);

t.test(
  'fault checker - a delivery for an event nobody sent is a phantom; a maybe-sent one is not',
  async (t) => {
    const h = clean();
    h.deliveries.push(delivery('c1', 3));
    h.states = undefined;
    t.same(kinds(h), ['phantom']);
    h.indeterminate = [{ tenant: T, conversation: 'c1', id: 'c1-e3', n: 3 }];
    t.same(kinds(h), []);
    h.deliveries.push(delivery('c9', 0));
    t.same(kinds(h), ['phantom'], 'a conversation nobody wrote to');
  },
);

t.test('fault checker - state counters must equal the acknowledged distinct events', async (t) => {
  const doubled = clean();
  doubled.states = [counters('c1', 4), counters('c2', 3)];
  const report = check(doubled);
  t.same(
    report.violations.map((v) => [v.kind, v.conversation]),
    [['state-mismatch', 'c1']],
  );
  t.match(report.violations[0]!.message, /= 4, acknowledged 3/);

  const missing = clean();
  missing.states = [counters('c1', 3)];
  t.same(
    check(missing).violations.map((v) => [v.kind, v.conversation]),
    [['state-mismatch', 'c2']],
  );
  t.match(check(missing).violations[0]!.message, /no state in KV/);

  const extra = clean();
  extra.states!.push(counters('c7', 1));
  t.same(kinds(extra), ['state-mismatch'], 'state for a conversation nobody wrote to');

  const skipped = clean();
  skipped.states = undefined;
  t.same(kinds(skipped), [], 'no states: no counter check');
});

t.test('fault checker - duplicate acknowledgements count once; the stored payload decides', async (t) => {
  const h = clean();
  h.acked.push(acked('c1', 1, { duplicate: true, ackedAt: 9000 }));
  h.acked.push(acked('c1', 1, { duplicate: true, ackedAt: 9001, path: 'nats' }));
  const report = check(h);
  t.ok(report.ok, formatReport(report));
  t.equal(report.summary.events, 6);
});

t.test('fault checker - non-sending types need no delivery but are counted when asked', async (t) => {
  const h = clean();
  h.acked.push(acked('c1', 3, { type: 'profile.updated' }));
  h.states![0] = { tenant: T, conversation: 'c1', counts: { 'message.received': 3, 'profile.updated': 1 } };
  t.same(kinds(h), []);
  t.same(kinds(h, { countedTypes: ['message.received', 'profile.updated'] }), []);
  h.states![0] = counters('c1', 3);
  t.same(kinds(h, { countedTypes: ['message.received', 'profile.updated'] }), ['state-mismatch']);
});

t.test('fault checker - every kind at once is reported, each once', async (t) => {
  const h = clean();
  h.deliveries = [
    delivery('c1', 1),
    delivery('c1', 0),
    delivery('c1', 0, { webhookId: 'other' }),
    delivery('c2', 0, { signatureValid: false }),
    delivery('c2', 5),
  ];
  h.states = [counters('c1', 2), counters('c2', 3)];
  const report = check(h, { redeliveryIsViolation: true });
  t.same(
    new Set(report.violations.map((v) => v.kind)),
    new Set(['order', 'duplicate', 'bad-signature', 'phantom', 'lost', 'state-mismatch']),
  );
  t.equal(report.summary.lost, 3, 'c1 n=2, c2 n=1 and n=2: every missing id counted');
});

t.test('fault checker - firstInversion', async (t) => {
  t.equal(firstInversion([]), undefined);
  t.equal(firstInversion([0, 1, 5, 9]), undefined);
  t.same(firstInversion([0, 11, 12, 1]), { at: 3, before: 12, after: 1 });
  t.same(firstInversion([3, 3]), { at: 1, before: 3, after: 3 }, 'a repeat is not increasing');
});

t.test(
  'fault checker - a lost event acknowledged only as a duplicate says so (its id was pre-empted)',
  async (t) => {
    const h = clean();
    h.acked.push(acked('c3', 0, { duplicate: true }));
    h.states = undefined;
    const report = check(h);
    t.same(
      report.violations.map((v) => [v.kind, v.conversation, v.ids]),
      [['lost', 'c3', ['c3-e0']]],
    );
    t.match(report.violations[0]!.message, /acknowledged only as duplicates: n = 0/);
  },
);
