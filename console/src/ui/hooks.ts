import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, actionErrorText } from '../lib/api';
import type { Topic } from '../lib/live';
import type { AuditEvent } from '../lib/types';
import { useApp } from './context';

export interface AsyncState<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
  reload: () => void;
}

// Loads with `fetcher`, again when `key` changes, and again (debounced by
// LiveUpdates) whenever an audit event touches one of `topics`. A reload
// keeps the data on screen; only the first load shows "loading".
export function useLoad<T>(fetcher: () => Promise<T>, key: string, topics: Topic[] = [], onEvents?: (e: AuditEvent[]) => void): AsyncState<T> {
  const { live } = useApp();
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const onEventsRef = useRef(onEvents);
  onEventsRef.current = onEvents;

  const reload = useCallback(() => {
    const mine = ++generation.current;
    fetcherRef.current().then(
      (v) => {
        if (mine !== generation.current) return;
        setData(v);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (mine !== generation.current) return;
        setError(e instanceof Error ? e : new Error(String(e)));
        setLoading(false);
      },
    );
  }, []);

  useEffect(() => {
    setLoading(true);
    setData(undefined);
    setError(undefined);
    reload();
    return () => {
      generation.current++;
    };
  }, [key, reload]);

  const topicKey = topics.join(',');
  useEffect(() => {
    if (topicKey === '') return undefined;
    return live.subscribe(topicKey.split(',') as Topic[], (events) => {
      onEventsRef.current?.(events);
      reload();
    });
  }, [live, topicKey, reload]);

  return { data, error, loading, reload };
}

// The current time (server-corrected), ticking every `ms`.
export function useNow(ms = 1000): number {
  const { api } = useApp();
  const [now, setNow] = useState(() => api.serverNow());
  useEffect(() => {
    const t = setInterval(() => setNow(api.serverNow()), ms);
    return () => clearInterval(t);
  }, [api, ms]);
  return now;
}

// Runs an action, reporting success or failure as a toast; returns whether
// it worked. A 401 is handled by the API client (back to the login page).
export function useAction(): [boolean, <T>(label: string, run: () => Promise<T>) => Promise<T | undefined>] {
  const { notify } = useApp();
  const [busy, setBusy] = useState(false);
  const run = useCallback(
    async <T,>(label: string, fn: () => Promise<T>): Promise<T | undefined> => {
      setBusy(true);
      try {
        const v = await fn();
        if (label) notify('ok', label);
        return v;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 401)) notify('error', actionErrorText(e));
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [notify],
  );
  return [busy, run];
}
