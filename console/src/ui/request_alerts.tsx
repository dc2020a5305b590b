// Browser notifications of new requests: the queue's control and the
// watcher the shell runs over the pending list (src/lib/request_alerts.ts
// decides; this file only talks to the browser).
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  alertControl,
  alertsFor,
  newRequests,
  readAlertPref,
  watching,
  writeAlertPref,
  type Alert,
  type AlertPermission,
  type AlertPref,
} from '../lib/request_alerts';
import type { ElevationRequest } from '../lib/types';
import { useApp } from './context';

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function permissionNow(): AlertPermission {
  if (typeof Notification === 'undefined' || !window.isSecureContext) return 'unsupported';
  return Notification.permission;
}

function show(a: Alert): void {
  try {
    const n = new Notification(a.title, { body: a.body, tag: a.tag, lang: 'en' });
    n.onclick = () => {
      window.focus();
      location.hash = a.hash;
      n.close();
    };
  } catch {
    // Some browsers (Chrome on Android) only notify through a service worker.
  }
}

// Raises a notification for each pending request this tab had not seen,
// once the technician turned them on. The first list is what was there.
export function useRequestAlerts(pending: ElevationRequest[] | undefined, onQueue: boolean): void {
  const { session } = useApp();
  const seen = useRef<Set<string> | null>(null);
  const onQueueRef = useRef(onQueue);
  onQueueRef.current = onQueue;
  useEffect(() => {
    if (!pending) return;
    const { seen: next, fresh } = newRequests(seen.current, pending, session.user);
    seen.current = next;
    if (fresh.length === 0) return;
    if (readAlertPref(storage()) !== 'on' || permissionNow() !== 'granted') return;
    if (watching({ visible: document.visibilityState === 'visible', focused: document.hasFocus(), onQueue: onQueueRef.current })) return;
    for (const a of alertsFor(fresh)) show(a);
  }, [pending, session.user]);
}

// "Notify me of new requests": asks the browser only when clicked.
export function RequestAlertControl() {
  const [permission, setPermission] = useState<AlertPermission>(permissionNow);
  const [pref, setPref] = useState<AlertPref>(() => readAlertPref(storage()));
  const [asking, setAsking] = useState(false);
  const choose = (next: AlertPref) => {
    writeAlertPref(storage(), next);
    setPref(next);
  };
  const turnOn = async () => {
    let p = permissionNow();
    if (p === 'default') {
      setAsking(true);
      try {
        // (old Safari answers through a callback and returns nothing)
        p = (await Notification.requestPermission()) ?? Notification.permission;
      } catch {
        p = permissionNow();
      } finally {
        setAsking(false);
      }
    }
    setPermission(p);
    choose(p === 'granted' ? 'on' : 'off');
  };
  switch (alertControl(permission, pref)) {
    case 'unsupported':
      return <p class="muted small">This browser cannot show notifications for this page.</p>;
    case 'blocked':
      return (
        <p class="muted small" role="status">
          Notifications are blocked for this site. To get them, allow them in the browser’s site settings, then reload.
        </p>
      );
    case 'on':
      return (
        <p class="alert-control" role="status">
          <span>Notifications of new requests are on in this browser.</span>{' '}
          <button type="button" class="btn btn-small" onClick={() => choose('off')}>
            Turn off
          </button>
        </p>
      );
    case 'off':
      return (
        <p class="alert-control">
          <button type="button" class="btn btn-small" disabled={asking} onClick={() => void turnOn()}>
            Notify me of new requests
          </button>{' '}
          <span class="muted small">A notification on this computer when a request arrives while you are on another page or window.</span>
        </p>
      );
  }
}
