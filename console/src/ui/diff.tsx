import { diffLines } from '../lib/policy_text';

// A unified diff, coloured by line kind (policy versions, a save's dry run,
// a policy change in the audit report).
export function DiffView({ diff, label }: { diff: string; label: string }) {
  return (
    <pre class="diff" aria-label={label} tabIndex={0}>
      {diff === '' ? (
        <span class="muted">No difference.</span>
      ) : (
        diffLines(diff).map((l, i) => (
          <span key={i} class={`diff-${l.kind}`}>
            {l.text}
            {'\n'}
          </span>
        ))
      )}
    </pre>
  );
}
