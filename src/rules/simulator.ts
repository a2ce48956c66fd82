/**
 * Runs the conversation actor over events in memory, with no side effects: the pure transition, a virtual
 * clock, and virtual timers. Used by replay, the *.test.yaml cases, POST /v1/evaluate and the benchmarks.
 *
 * What it models: before an event at time T is applied to a conversation, that conversation's wake-ups due
 * at or before T fire (as `timer.wake` events at their due time); events the transition emits (detector
 * signals) are applied right after the event that emitted them; `advanceTo(T)` fires every wake-up due by T.
 * Sequence numbers are the simulator's own (1, 2, 3, ... in application order), so the same input always
 * gives the same decisions, ids and report.
 */

import { passThroughGate, type SafetyGate } from '../contracts/conversation/gate.js';
import type { ConversationState } from '../contracts/conversation/state.js';
import type { ActionEffect, AuditEffect, EmitEffect } from '../contracts/effects.js';
import { type EventEnvelope, SCHEMA_VERSION } from '../contracts/envelope.js';
import { type ActionRecord, AUDIT_KIND } from '../safety/gate-review.js';
import { conversationActor } from './conversation-actor.js';
import { WAKE_TYPE } from './engine.js';
import type { RuleSet } from './rule-set.js';

/** One decided action, as replay and the test cases report it. */
export interface SimDecision {
  conversation: string;
  /** The event that led to it: a real event's id and type, or a synthetic wake-up. */
  eventId: string;
  eventType: string;
  /** Stream sequence of the real event it was evaluated on (replay), when known. */
  sourceSeq?: number;
  at: string;
  rule: string;
  channel: string;
  template: string;
  variables: Record<string, unknown>;
  variant?: string;
  journey?: string;
  step?: string;
  rulesVersion: string;
  /** A digest send: how many events it lists. */
  digest?: number;
  /** The event a debounced or digest send carries as `event` (the last of its window), by id. */
  lastEvent?: string;
}

export interface SimSignal {
  conversation: string;
  eventId: string;
  at: string;
  type: string;
  attributes: Record<string, unknown>;
}

export interface SimJourneyStep {
  conversation: string;
  at: string;
  journey: string;
  path: string[];
  outcome: string;
}

interface Conversation {
  tenant: string;
  conversation: string;
  state: ConversationState;
  wake: number | null;
  lastSeq?: number;
}

/** An action the safety gate stopped (blocked for good, or held for a human), with the guard that did it. */
export interface SimBlocked {
  conversation: string;
  eventId: string;
  at: string;
  rule: string;
  channel: string;
  template: string;
  decision: 'blocked' | 'held';
  /** The deciding guard's reason (e.g. `dnd`, `quiet-hours`, `escalated`, `killed:<key>`). */
  reason: string;
  /** Every guard's verdict as the gate recorded it. */
  guards: unknown[];
}

export interface SimulatorOptions {
  gate?: SafetyGate;
  /** Cap on emitted events chained from one event (a guard against rule loops); default 100. */
  maxChain?: number;
}

export class Simulator {
  readonly decisions: SimDecision[] = [];
  readonly signals: SimSignal[] = [];
  readonly journeySteps: SimJourneyStep[] = [];
  /** Actions the gate blocked or held, in order (they are not in `decisions`). */
  readonly blocked: SimBlocked[] = [];
  readonly #rules: RuleSet;
  readonly #gate: SafetyGate;
  readonly #maxChain: number;
  readonly #conversations = new Map<string, Conversation>();
  #seq = 0;
  #applied = 0;

  constructor(rules: RuleSet, options: SimulatorOptions = {}) {
    this.#rules = rules;
    this.#gate = options.gate ?? passThroughGate;
    this.#maxChain = options.maxChain ?? 100;
  }

  /** Events applied, synthetic ones included. */
  get applied(): number {
    return this.#applied;
  }

  state(tenant: string, conversation: string): ConversationState | undefined {
    return this.#conversations.get(`${tenant}.${conversation}`)?.state;
  }

  /** Seeds a conversation's state (evaluate: the stored state of a live conversation). */
  seed(state: ConversationState): void {
    const c = this.#get(state.tenant, state.conversation);
    c.state = state;
    c.wake = state.automation?.wake ?? null;
  }

  #get(tenant: string, conversation: string): Conversation {
    const key = `${tenant}.${conversation}`;
    let c = this.#conversations.get(key);
    if (!c) {
      c = { tenant, conversation, state: conversationActor.initial(tenant, conversation), wake: null };
      this.#conversations.set(key, c);
    }
    return c;
  }

  /**
   * Applies one event at stream time `now` (ms; default its occurredAt), after firing the conversation's
   * wake-ups due by then. Returns the decisions it (and what it set off) produced.
   */
  apply(event: EventEnvelope, now = Date.parse(event.occurredAt), sourceSeq?: number): SimDecision[] {
    const before = this.decisions.length;
    const c = this.#get(event.tenant, event.conversation);
    this.#fireDue(c, now);
    this.#run(c, event, now, sourceSeq);
    return this.decisions.slice(before);
  }

  /** Moves the virtual clock to `now`: every conversation's wake-ups due by then fire, in time order. */
  advanceTo(now: number): SimDecision[] {
    const before = this.decisions.length;
    for (;;) {
      let next: Conversation | undefined;
      for (const c of this.#conversations.values())
        if (c.wake !== null && c.wake <= now && (!next || c.wake < next.wake!)) next = c;
      if (!next) break;
      this.#fireDue(next, now);
    }
    return this.decisions.slice(before);
  }

  #fireDue(c: Conversation, now: number): void {
    for (let guard = 0; c.wake !== null && c.wake <= now && guard < 10_000; guard++) {
      const due = c.wake;
      const wake: EventEnvelope = {
        schema: SCHEMA_VERSION,
        id: `wake.${c.tenant}.${c.conversation}.${due}`,
        type: WAKE_TYPE,
        tenant: c.tenant,
        conversation: c.conversation,
        occurredAt: new Date(due).toISOString(),
        attributes: { due },
      };
      c.wake = null; // consumed; the transition re-arms it
      this.#run(c, wake, due, undefined);
    }
  }

  #run(c: Conversation, first: EventEnvelope, now: number, sourceSeq: number | undefined): void {
    const queue: EventEnvelope[] = [first];
    for (let chained = 0; queue.length > 0 && chained <= this.#maxChain; chained++) {
      const event = queue.shift()!;
      const seq = ++this.#seq;
      this.#applied++;
      const result = conversationActor.transition(c.state, event, {
        seq,
        now,
        rules: this.#rules,
        gate: this.#gate,
      });
      c.state = result.state;
      const at = new Date(now).toISOString();
      for (let i = 0; i < result.effects.length; i++) {
        const e = result.effects[i]!;
        if (e.type === 'action') this.decisions.push(this.#decision(c, event, e, at, sourceSeq));
        else if (e.type === 'wake') c.wake = e.at;
        else if (e.type === 'emit') {
          const emitted = this.#emitted(c, event, e, seq, i, at);
          this.signals.push({
            conversation: c.conversation,
            eventId: emitted.id,
            at,
            type: e.eventType,
            attributes: e.attributes,
          });
          queue.push(emitted);
        } else if (e.type === 'audit' && e.kind === 'journey') this.#journeyStep(c, e, at);
        else if (e.type === 'audit' && (e.kind === AUDIT_KIND.blocked || e.kind === AUDIT_KIND.held))
          this.#blocked(c, event, e, at);
      }
    }
  }

  #decision(
    c: Conversation,
    event: EventEnvelope,
    a: ActionEffect,
    at: string,
    sourceSeq?: number,
  ): SimDecision {
    const d = a.decision;
    return {
      conversation: c.conversation,
      eventId: event.id,
      eventType: event.type,
      ...(sourceSeq !== undefined && event.type !== WAKE_TYPE ? { sourceSeq } : {}),
      at,
      rule: a.rule,
      channel: a.channel,
      template: a.template,
      variables: a.variables,
      ...(d?.variant ? { variant: d.variant } : {}),
      ...(d?.journey ? { journey: d.journey.id, step: d.journey.step } : {}),
      rulesVersion: d?.rulesVersion ?? this.#rules.version,
      ...(a.digest ? { digest: a.digest.count } : {}),
      ...(a.event ? { lastEvent: a.event.id } : {}),
    };
  }

  #emitted(
    c: Conversation,
    source: EventEnvelope,
    e: EmitEffect,
    seq: number,
    index: number,
    at: string,
  ): EventEnvelope {
    return {
      schema: SCHEMA_VERSION,
      id: `${c.tenant}.${c.conversation}.${seq}.${index}`,
      type: e.eventType,
      tenant: c.tenant,
      conversation: c.conversation,
      occurredAt: at,
      attributes: e.attributes,
      ...(source.traceId ? { traceId: source.traceId } : {}),
    };
  }

  #blocked(c: Conversation, event: EventEnvelope, e: AuditEffect, at: string): void {
    const actions = (e.record.actions ?? []) as ActionRecord[];
    for (const a of actions) {
      if (a.decision !== 'blocked' && a.decision !== 'held') continue;
      this.blocked.push({
        conversation: c.conversation,
        eventId: event.id,
        at,
        rule: a.rule,
        channel: a.channel,
        template: a.template,
        decision: a.decision,
        reason: a.reason ?? a.decision,
        guards: a.guards,
      });
    }
  }

  #journeyStep(c: Conversation, e: AuditEffect, at: string): void {
    const r = e.record as { journey: string; path: string[]; outcome: string };
    this.journeySteps.push({
      conversation: c.conversation,
      at,
      journey: r.journey,
      path: r.path,
      outcome: r.outcome,
    });
  }
}
