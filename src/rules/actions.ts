/**
 * Action specs compiled once: variables to renderers, delays to ms. Shared by trigger rules and journey
 * action steps. `render` produces the ActionEffect for one evaluation document.
 */
import type { ActionEffect, DecisionMeta } from '../contracts/effects.js';
import { compileTemplate, type Render, TemplateError } from './interpolate.js';
import { type ActionSpec, durationMs } from './schema.js';

export interface CompiledAction {
  channel: string;
  template: string;
  variables: Render;
  delayMs: number;
}

/** Where a compile problem is: a path inside the file's document, and what is wrong. */
export interface CompileIssue {
  path: Array<string | number>;
  message: string;
}

export function compileActions(
  specs: readonly ActionSpec[],
  path: Array<string | number>,
  issues: CompileIssue[],
): CompiledAction[] {
  return specs.map((a, i) => {
    let variables: Render = () => a.variables;
    try {
      variables = compileTemplate(a.variables);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      issues.push({ path: [...path, i, 'variables'], message: err.message });
    }
    return {
      channel: a.channel,
      template: a.template,
      variables,
      delayMs: a.delay ? durationMs(a.delay) : 0,
    };
  });
}

export function renderAction(
  a: CompiledAction,
  rule: string,
  doc: unknown,
  decision: DecisionMeta,
): ActionEffect {
  return {
    type: 'action',
    channel: a.channel,
    rule,
    template: a.template,
    variables: a.variables(doc) as Record<string, unknown>,
    decision,
  };
}
