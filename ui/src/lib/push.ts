// Pushes and tapped notifications on Android and iOS (src-tauri/src/mobile/push_token.rs).
// The notifications plugin (tauri-plugin-notifications 0.4.6) reports them to the page only,
// as plugin events; capabilities/mobile.json lets the page listen and nothing more.
//
// - `push-message` (a push arrived while the app runs; Android data messages, iOS
//   background delivery) and `notification` (iOS: a push shown while the app is in front)
//   and `notificationClicked` (the person tapped one; also a tap that started the app,
//   kept by the plugin until `set_click_listener_active` says someone listens): each only
//   wakes the page, which asks the server for the pending request. The payload is never
//   read: a forged push can do nothing but make the app ask.
// - `push-token`: the platform rotated the token; the page asks Rust to register again.

import { addPluginListener, invoke, type PluginListener } from '@tauri-apps/api/core';
import type { PushTrigger } from './api';

const PLUGIN = 'notifications';
const WAKE_EVENTS = ['push-message', 'notification', 'notificationClicked'];

export function canPush(platform: string): boolean {
  return platform === 'android' || platform === 'ios';
}

/** Listens for pushes, taps and token changes; returns a function that stops listening. */
export async function listenForPushes(
  onwake: () => void,
  onregister: (trigger: PushTrigger) => void,
): Promise<() => void> {
  const listeners: PluginListener[] = [];
  for (const event of WAKE_EVENTS) listeners.push(await addPluginListener(PLUGIN, event, () => onwake()));
  listeners.push(await addPluginListener(PLUGIN, 'push-token', () => onregister('token_changed')));
  // Delivers a tap that started the app before this listener existed.
  await invoke(`plugin:${PLUGIN}|set_click_listener_active`, { active: true });
  return () => {
    for (const listener of listeners) listener.unregister().catch(() => {});
  };
}
