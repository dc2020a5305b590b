import { useState } from 'preact/hooks';
import { enc } from '../lib/api';
import { formatTime } from '../lib/format';
import { roleDescription } from '../lib/roles';
import type { ConsoleUser, Role, UserList } from '../lib/types';
import { Badge, Dialog, Field, Loaded, ShownOnce } from '../ui/common';
import { useApp } from '../ui/context';
import { useAction, useLoad } from '../ui/hooks';

const ROLES: Role[] = ['auditor', 'approver', 'admin'];

export function UsersView() {
  const { api, session } = useApp();
  const state = useLoad(() => api.get<UserList>('/api/v1/users'), 'users', ['users']);
  const [busy, run] = useAction();
  const [creating, setCreating] = useState(false);
  const [password, setPassword] = useState<ConsoleUser | null>(null);
  const [shown, setShown] = useState<{ name: string; password: string } | null>(null);
  const patch = (u: ConsoleUser, body: Record<string, unknown>, label: string) =>
    void run(label, () => api.patch(`/api/v1/users/${enc(u.name)}`, { ...body, version: u.version })).then(state.reload);
  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">Users and roles</h1>
      <ul class="muted small">
        {ROLES.map((r) => (
          <li key={r}>{roleDescription(r)}</li>
        ))}
      </ul>
      <p>
        <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>
          New user…
        </button>
      </p>
      {shown && <ShownOnce label={`Password for ${shown.name}`} value={shown.password} />}
      <Loaded state={state} what="users">
        {(data) => (
          <div class="table-wrap">
            <table>
              <caption class="sr-only">Console users</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Since</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.users.map((u) => {
                  const self = u.name === session.user;
                  return (
                    <tr key={u.name}>
                      <td data-label="Name">
                        {u.name}
                        {self && <span class="muted"> (you)</span>}
                      </td>
                      <td data-label="Role">
                        <label class="sr-only" for={`role-${u.name}`}>
                          Role of {u.name}
                        </label>
                        <select
                          id={`role-${u.name}`}
                          value={u.role}
                          disabled={busy || self}
                          title={self ? 'Ask another admin to change your own role' : undefined}
                          onChange={(e) => patch(u, { role: e.currentTarget.value }, `${u.name} is now ${e.currentTarget.value}`)}
                        >
                          {ROLES.map((r) => (
                            <option key={r} value={r}>
                              {r}
                            </option>
                          ))}
                        </select>
                      </td>
                      <td data-label="Since">{formatTime(u.created_at)}</td>
                      <td data-label="State">{u.disabled ? <Badge kind="denied">disabled</Badge> : <Badge kind="active">active</Badge>}</td>
                      <td class="row-actions">
                        {!self && (
                          <button
                            type="button"
                            class={u.disabled ? 'btn btn-small' : 'btn btn-small btn-danger'}
                            disabled={busy}
                            onClick={() => patch(u, { disabled: !u.disabled }, u.disabled ? `${u.name} enabled` : `${u.name} disabled`)}
                          >
                            {u.disabled ? 'Enable' : 'Disable'}
                          </button>
                        )}
                        <button type="button" class="btn btn-small" onClick={() => setPassword(u)}>
                          Set password…
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Loaded>
      {creating && (
        <CreateUser
          onClose={() => setCreating(false)}
          onCreated={(u) => {
            if (u.password) setShown({ name: u.name, password: u.password });
            state.reload();
          }}
        />
      )}
      {password && <PasswordDialog user={password} onClose={() => setPassword(null)} onDone={state.reload} />}
    </section>
  );
}

function CreateUser({ onClose, onCreated }: { onClose: () => void; onCreated: (u: ConsoleUser) => void }) {
  const { api } = useApp();
  const [busy, run] = useAction();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('approver');
  const [password, setPassword] = useState('');
  const nameError = name && !/^[a-z0-9._@-]{1,64}$/.test(name) ? "a user name uses only a-z, 0-9, '.', '-', '_' and '@'" : undefined;
  return (
    <Dialog title="New console user" onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!name || nameError) return;
          const body: Record<string, unknown> = { name, role };
          if (password) body.password = password;
          void run(`User ${name} created`, () => api.post<ConsoleUser>('/api/v1/users', body)).then((u) => {
            if (u) {
              onCreated(u);
              onClose();
            }
          });
        }}
      >
        <Field label="Name" error={nameError}>
          {(p) => <input {...p} type="text" required autoComplete="off" value={name} onInput={(e) => setName(e.currentTarget.value)} />}
        </Field>
        <Field label="Role" hint={roleDescription(role)}>
          {(p) => (
            <select {...p} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Password (optional)" hint="Leave empty and hoistd generates one, shown once.">
          {(p) => <input {...p} type="password" autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />}
        </Field>
        <div class="actions">
          <button type="submit" class="btn btn-primary" disabled={busy || !name || !!nameError}>
            Create
          </button>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function PasswordDialog({ user, onClose, onDone }: { user: ConsoleUser; onClose: () => void; onDone: () => void }) {
  const { api } = useApp();
  const [busy, run] = useAction();
  const [password, setPassword] = useState('');
  return (
    <Dialog title={`New password for ${user.name}`} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run('Password changed; their sessions ended', () =>
            api.patch(`/api/v1/users/${enc(user.name)}`, { password, version: user.version }),
          ).then((ok) => {
            if (ok !== undefined) onClose();
            onDone();
          });
        }}
      >
        <Field label="New password" hint="Every session of this user ends.">
          {(p) => <input {...p} type="password" required autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />}
        </Field>
        <div class="actions">
          <button type="submit" class="btn btn-primary" disabled={busy || !password}>
            Set password
          </button>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
