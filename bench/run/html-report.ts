/**
 * The HTML report: ONE self-contained file (inline CSS and SVG, no script, no network) with the headline
 * figures, throughput-over-time and latency-over-time charts (Parley and every peer on the same axes), the
 * peer table with Parley's ratios, the correctness counters, per-stage latency and CPU per process.
 */
import type { BenchRunReport, SystemReport } from './report.js';
import type { TimelinePoint } from './tracker.js';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c'];

const esc = (s: unknown) =>
  String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const fmt = (x: number | null | undefined, unit = '') =>
  x === null || x === undefined || Number.isNaN(x) ? 'n/a' : `${x.toLocaleString('en-US')}${unit}`;

interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Where each phase starts on the time axis (from Parley's timeline). */
export interface Marker {
  t: number;
  label: string;
}

/** A line chart as inline SVG; values above `clipAt` are drawn at the top edge (spikes keep the scale). */
export function lineChart(
  title: string,
  yLabel: string,
  series: Series[],
  markers: Marker[] = [],
  clipAt?: number,
  w = 1180,
  h = 230,
): string {
  const pad = { l: 64, r: 16, t: 28, b: 36 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = niceMax(Math.max(1, ...xs));
  const yMax = niceMax(Math.max(1, Math.min(clipAt ?? Number.POSITIVE_INFINITY, Math.max(...ys, 0))));
  const X = (x: number) => pad.l + (x / xMax) * (w - pad.l - pad.r);
  const Y = (y: number) => h - pad.b - (Math.min(y, yMax) / yMax) * (h - pad.t - pad.b);
  const grid: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const y = (yMax * k) / 4;
    grid.push(
      `<line x1="${pad.l}" x2="${w - pad.r}" y1="${Y(y)}" y2="${Y(y)}" stroke="#e5e7eb"/>`,
      `<text x="${pad.l - 6}" y="${Y(y) + 4}" text-anchor="end">${esc(fmt(Math.round(y * 10) / 10))}</text>`,
    );
    const x = (xMax * k) / 4;
    grid.push(`<text x="${X(x)}" y="${h - pad.b + 16}" text-anchor="middle">${esc(Math.round(x))} s</text>`);
  }
  const lines = series.map((s) => {
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join('');
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"/>`;
  });
  const marks = markers.map(
    (m) =>
      `<line x1="${X(m.t)}" x2="${X(m.t)}" y1="${pad.t}" y2="${h - pad.b}" stroke="#9ca3af" stroke-dasharray="4 3"/><text x="${X(m.t) + 4}" y="${pad.t + 10}" font-size="11" fill="#6b7280">${esc(m.label)}</text>`,
  );
  const legend = series.map(
    (s, i) =>
      `<rect x="${pad.l + 10 + i * 170}" y="8" width="12" height="12" fill="${s.color}"/><text x="${pad.l + 26 + i * 170}" y="18">${esc(s.name)}</text>`,
  );
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${w} ${h}" width="100%" role="img" aria-label="${esc(title)}">
<g font-size="11" fill="#374151">${grid.join('')}</g>
<line x1="${pad.l}" x2="${pad.l}" y1="${pad.t}" y2="${h - pad.b}" stroke="#9ca3af"/>
<line x1="${pad.l}" x2="${w - pad.r}" y1="${h - pad.b}" y2="${h - pad.b}" stroke="#9ca3af"/>
<text x="14" y="${(h - pad.b + pad.t) / 2}" font-size="11" fill="#374151" transform="rotate(-90 14 ${(h - pad.b + pad.t) / 2})" text-anchor="middle">${esc(yLabel)}</text>
${marks.join('')}
${lines.join('\n')}
<g font-size="12" fill="#111827">${legend.join('')}</g>
</svg></figure>`;
}

function series(
  systems: Array<{ name: string; timeline: TimelinePoint[] }>,
  pick: (p: TimelinePoint) => number | null,
) {
  return systems.map((s, i) => ({
    name: s.name,
    color: COLORS[i % COLORS.length]!,
    points: s.timeline.flatMap((p) => {
      const v = pick(p);
      return v === null ? [] : ([[p.t, v]] as Array<[number, number]>);
    }),
  }));
}

/** Spikes above 3x the 90th percentile of the per-second p99s are clipped so the rest stays readable. */
function clipAbove(values: number[]): { at?: number; note: string } {
  if (values.length < 10) return { note: '' };
  const sorted = [...values].sort((a, b) => a - b);
  const at = 3 * sorted[Math.floor(sorted.length * 0.9)]!;
  const max = sorted[sorted.length - 1]!;
  return max > at
    ? { at, note: `; clipped at ${Math.round(at)} ms, highest ${Math.round(max)} ms` }
    : { note: '' };
}

function peerRow(r: SystemReport, parley: boolean): string {
  const c = r.correctness;
  const cells = [
    `<b>${esc(r.name)}</b><br><small>${esc(r.description)}</small>`,
    fmt(r.throughput.eventsPerSecond),
    fmt(r.latency.e2e.p50Ms, ' ms'),
    fmt(r.latency.e2e.p99Ms, ' ms'),
    fmt(r.cpu.totalMsPerEvent, ' ms'),
    `${c.duplicates} / ${c.unsafe} / ${c.lost} / ${c.orderViolations}`,
    parley ? '—' : `×${fmt(r.ratios?.throughput)}`,
    parley ? '—' : `×${fmt(r.ratios?.p99)}`,
    parley ? '—' : `×${fmt(r.ratios?.cpuPerEvent)}`,
  ];
  return `<tr>${cells.map((x) => `<td>${x}</td>`).join('')}</tr>`;
}

export function htmlReport(r: BenchRunReport): string {
  const parley: SystemReport = {
    name: 'parley',
    description: `Parley, ${r.settings.parley.processes} process(es) + nats-server ${r.machine.natsServer}`,
    throughput: r.throughput,
    latency: r.latency,
    cpu: {
      processes: r.cpu.processes,
      benchMsPerEvent: r.cpu.benchMsPerEvent,
      totalMsPerEvent: r.cpu.totalMsPerEvent,
      otherProcessesCores: r.cpu.otherProcessesCores,
    },
    correctness: r.correctness,
    sends: r.sends,
    platform: r.platform,
    phases: r.phases,
    timeline: r.timeline,
  };
  const systems = [parley, ...r.peers];
  const c = r.correctness;
  const ok = (x: number) => `<span class="${x === 0 ? 'ok' : 'bad'}">${x}</span>`;
  const stages = Object.entries(r.latency.stages)
    .map(
      ([k, v]) =>
        `<tr><td>${esc(k)}</td><td>${fmt(v.p50Ms, ' ms')}</td><td>${fmt(v.p95Ms, ' ms')}</td><td>${fmt(v.p99Ms, ' ms')}</td><td>${fmt('events' in v ? v.events : v.count)}</td></tr>`,
    )
    .join('');
  const procs = systems
    .flatMap((s) =>
      s.cpu.processes.map(
        (p) =>
          `<tr><td>${esc(s.name)}</td><td>${esc(p.name)}</td><td>${fmt(p.msPerEvent, ' ms')}</td><td>${fmt(p.cores)}</td><td>${fmt(p.peakRssMb, ' MiB')}</td></tr>`,
      ),
    )
    .join('');
  const phases = r.phases
    .map(
      (p) =>
        `<tr><td>${esc(p.name)}</td><td>${esc(typeof p.rate === 'object' ? JSON.stringify(p.rate) : p.rate)}</td><td>${fmt(p.seconds, ' s')}</td><td>${fmt(p.events)}</td><td>${fmt(p.ackedPerSecond)}</td><td>${fmt(p.latency.p50Ms, ' ms')}</td><td>${fmt(p.latency.p99Ms, ' ms')}</td></tr>`,
    )
    .join('');
  const markers: Marker[] = [];
  for (const p of r.timeline)
    if (markers[markers.length - 1]?.label !== p.phase)
      markers.push({ t: Math.max(0, p.t - 1), label: p.phase });
  const latencySeries = series(systems, (p) => p.p99Ms);
  const clip = clipAbove(latencySeries.flatMap((x) => x.points.map((q) => q[1])));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley bench: ${esc(r.scenario)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:20px 28px;color:#111827}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:18px 0 6px}
.meta{color:#4b5563;font-size:12px}
.cards{display:flex;gap:10px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid #e5e7eb;border-radius:6px;padding:8px 12px;min-width:150px}
.card b{display:block;font-size:20px}
table{border-collapse:collapse;font-size:12.5px}td,th{border-bottom:1px solid #e5e7eb;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f9fafb}figure{margin:8px 0}figcaption{font-weight:600;font-size:13px}
.ok{color:#15803d;font-weight:600}.bad{color:#b91c1c;font-weight:700}
.cols{display:flex;gap:28px;flex-wrap:wrap}
</style></head><body>
<h1>Parley bench — ${esc(r.scenario)} <span class="${r.pass ? 'ok' : 'bad'}">${r.pass ? 'PASS' : 'FAIL'}</span></h1>
<div class="meta">${esc(r.description)}<br>${esc(r.startedAt)} · ${r.durationSeconds} s · ${r.machine.cores} cores (${esc(r.machine.cpuModel)}), ${r.machine.memoryGb} GB · node ${esc(r.machine.node)} · nats-server ${esc(r.machine.natsServer)} · load average ${esc(r.machine.loadAverageAtStart.join(' '))} → ${esc(r.machine.loadAverageAtEnd.join(' '))}</div>
<div class="cards">
<div class="card">events/s<b>${fmt(r.throughput.eventsPerSecond)}</b></div>
<div class="card">ack → send p99 (${esc(r.latency.phase)})<b>${fmt(r.latency.e2e.p99Ms, ' ms')}</b>p50 ${fmt(r.latency.e2e.p50Ms, ' ms')}</div>
<div class="card">of the raw ceiling<b>${r.ceiling ? fmt(r.ceiling.ratio) : 'n/a'}</b>${r.ceiling ? `${fmt(r.ceiling.eventsPerSecond)} events/s` : ''}</div>
<div class="card">JetStream writes / event<b>${fmt(r.writesPerEvent)}</b></div>
<div class="card">CPU / event<b>${fmt(r.cpu.parleyMsPerEvent, ' ms')}</b>+ nats ${fmt(r.cpu.natsMsPerEvent, ' ms')}</div>
<div class="card">peak RSS<b>${fmt(r.memory.parleyRssMb, ' MiB')}</b></div>
<div class="card">duplicates / unsafe / lost / order<b>${ok(c.duplicates)} / ${ok(c.unsafe)} / ${ok(c.lost)} / ${ok(c.orderViolations)}</b></div>
</div>
<h2>Peers, same workload, same run</h2>
<table><tr><th>system</th><th>events/s</th><th>p50 (${esc(r.latency.phase)})</th><th>p99</th><th>CPU/event (all its processes)</th><th>dup / unsafe / lost / order</th><th>Parley throughput ×</th><th>Parley p99 ×</th><th>Parley CPU ×</th></tr>
${systems.map((s, i) => peerRow(s, i === 0)).join('\n')}</table>
<p class="meta">Ratios are Parley's figure divided by the peer's (throughput above 1 is better for Parley; p99 and CPU below 1 are).</p>
${lineChart(
  'Throughput over time (sends delivered per second; phases of the Parley run marked)',
  'events/s',
  series(systems, (p) => p.deliveredPerSecond),
  markers,
)}
${lineChart(`Latency over time (ingest ack → send, p99 of each second${clip.note})`, 'ms', latencySeries, markers, clip.at)}
<div class="cols">
<div><h2>Phases (Parley)</h2><table><tr><th>phase</th><th>rate</th><th>length</th><th>events</th><th>acked/s</th><th>p50</th><th>p99</th></tr>${phases}</table></div>
<div><h2>Latency per stage (Parley, headline phase)</h2><table><tr><th>stage</th><th>p50</th><th>p95</th><th>p99</th><th>count</th></tr>${stages}</table></div>
<div><h2>CPU per process (headline phase)</h2><table><tr><th>system</th><th>process</th><th>CPU/event</th><th>cores</th><th>peak RSS</th></tr>${procs}</table></div>
</div>
<h2>Sends (Parley)</h2><p class="meta">${esc(
    Object.entries(r.sends)
      .map(([k, v]) => `${k} ${v}`)
      .join(' · '),
  )} · platform: ${esc(
    Object.entries(r.platform)
      .map(([k, v]) => `${k} ${v}`)
      .join(' · '),
  )}</p>
</body></html>
`;
}
