import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { ApiClient } from '../lib/api';
import type { LiveUpdates } from '../lib/live';
import type { Session } from '../lib/types';

export interface Toast {
  id: number;
  kind: 'ok' | 'error';
  text: string;
}

export interface AppContextValue {
  api: ApiClient;
  live: LiveUpdates;
  session: Session;
  notify: (kind: Toast['kind'], text: string) => void;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const v = useContext(AppContext);
  if (!v) throw new Error('useApp outside the app (this is a bug)');
  return v;
}
