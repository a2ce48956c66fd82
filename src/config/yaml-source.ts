/**
 * YAML parsing that keeps positions, so validation errors can name the file, line and field.
 * Shared by the config loader and the rule loader.
 */
import { type Document, isNode, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import type { Issue } from '../errors/app-error.js';

export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

export function parseYamlSource(file: string, text: string): { source: YamlSource; issues: Issue[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  // Syntax errors carry offsets (linePos is only filled in with prettyErrors): file:line:column.
  const issues: Issue[] = doc.errors.map((e) => {
    const at = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
    return {
      path: `${file}:${at.line}:${at.col}`,
      message: `${e.message.split('\n')[0] ?? e.message} (YAML syntax)`,
    };
  });
  return { source: { file, doc, lines }, issues };
}

/** Line (1-based) of the deepest node on `path` that exists in the document. */
export function lineOf(source: YamlSource, path: readonly PropertyKey[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = source.doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return source.lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function located(source: YamlSource, path: readonly PropertyKey[], message: string): Issue {
  const line = lineOf(source, path);
  const field = path.map(String).join('.');
  return { path: `${source.file}${line ? `:${line}` : ''}${field ? ` ${field}` : ''}`, message };
}

/** zod issues as file:line field messages; an unknown key is reported at its own line. */
export function zodIssues(source: YamlSource, error: z.ZodError): Issue[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => located(source, [...issue.path, key], `unknown key "${key}"`))
      : [located(source, issue.path, issue.message)],
  );
}
