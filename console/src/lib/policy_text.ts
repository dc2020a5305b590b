// Reading hoistd's policy error messages and outlining a policy's tables,
// for the editor. Line scanners only: hoistd's parser is the authority.

export interface PolicyProblem {
  line: number | null;
  column: number | null;
  message: string;
}

// PUT /api/v1/policies/{name} answers 400 with "the policy has N error(s):"
// and one "file:line:column: where: what" line per error.
export function parsePolicyErrors(message: string): PolicyProblem[] {
  const lines = message.split('\n').map((l) => l.trim());
  const out: PolicyProblem[] = [];
  for (const l of lines) {
    if (l === '' || /^the policy has \d+ error/.test(l)) continue;
    const m = /^[^:]*:(\d+):(\d+):\s*(.*)$/.exec(l);
    if (m) out.push({ line: Number(m[1]), column: Number(m[2]), message: m[3] ?? '' });
    else out.push({ line: null, column: null, message: l });
  }
  return out;
}

// The problems in a dry-run check, in the same shape (line 0 = unknown).
export function problemsFromCheck(check: { errors: Array<{ line: number; column: number; where: string; message: string }> }): PolicyProblem[] {
  return check.errors.map((e) => ({
    line: e.line > 0 ? e.line : null,
    column: e.line > 0 && e.column > 0 ? e.column : null,
    message: e.where ? `${e.where}: ${e.message}` : e.message,
  }));
}

// One line for the editor's status under the text.
export function checkSummary(check: { valid: boolean; errors: unknown[]; changed: boolean; current_version: number; rules?: number; auto_approvals?: number }): string {
  if (!check.valid) {
    const n = check.errors.length;
    return `${n} problem${n === 1 ? '' : 's'}: it cannot be saved until ${n === 1 ? 'it is' : 'they are'} fixed.`;
  }
  const rules = check.rules ?? 0;
  const autos = check.auto_approvals ?? 0;
  const what = `${rules} rule${rules === 1 ? '' : 's'}${autos ? `, ${autos} autonomous approval${autos === 1 ? '' : 's'}` : ''}`;
  if (!check.changed) return `No problems (${what}); the same as version ${check.current_version}.`;
  return `No problems (${what}); saving makes version ${check.current_version + 1}.`;
}

export interface OutlineEntry {
  kind: 'settings' | 'rule' | 'auto_approval';
  line: number; // 1-based line of the table header
  name: string;
  fields: Record<string, string>; // single-line values, as written
}

// A line without its TOML comment: a `#` outside any string ("..." with
// its escapes, or '...'). A `#` inside a string is text (a contact of
// "ext. #4711" stays whole).
export function withoutComment(line: string): string {
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; ++i) {
    const c = line[i];
    if (quote === '"' && c === '\\') {
      ++i; // the escaped character
    } else if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#') {
      return line.slice(0, i);
    }
  }
  return line;
}

// The tables of a policy text, with their single-line key = value pairs.
export function outlinePolicy(text: string): OutlineEntry[] {
  const out: OutlineEntry[] = [];
  let current: OutlineEntry | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = withoutComment(raw).trim();
    if (line.startsWith('[')) {
      current = null;
      if (line === '[settings]') current = { kind: 'settings', line: i + 1, name: 'settings', fields: {} };
      else if (line === '[[rule]]') current = { kind: 'rule', line: i + 1, name: '', fields: {} };
      else if (line === '[[auto_approval]]') current = { kind: 'auto_approval', line: i + 1, name: '', fields: {} };
      if (current) out.push(current);
      return;
    }
    if (!current) return;
    const m = /^([A-Za-z0-9_]+)\s*=\s*(.+)$/.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) return;
    const entry: OutlineEntry = current;
    entry.fields[m[1]] = m[2];
    if (m[1] === 'name') entry.name = m[2].replace(/^"(.*)"$/, '$1');
  });
  return out;
}

// Lines of a unified diff, each with its kind, for colouring.
export function diffLines(diff: string): Array<{ kind: 'add' | 'del' | 'hunk' | 'meta' | 'same'; text: string }> {
  return diff.split('\n').map((text) => {
    if (text.startsWith('+++') || text.startsWith('---')) return { kind: 'meta' as const, text };
    if (text.startsWith('@@')) return { kind: 'hunk' as const, text };
    if (text.startsWith('+')) return { kind: 'add' as const, text };
    if (text.startsWith('-')) return { kind: 'del' as const, text };
    return { kind: 'same' as const, text };
  });
}
