// Push wake-ups on phones: the app registers once the device is opened, a push or a tapped
// notification makes the home screen ask at once, and Settings turns pushes off and on.
import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import type { Channel } from '@tauri-apps/api/core';
import App from '../App.svelte';
import { installFake, READY, request, type Fake } from './fake';
import { setLang } from '../lib/i18n.svelte';

/** A phone build whose notifications plugin delivers events through `emit`. */
function phone(start = READY, platform = 'android') {
  const fake = installFake(start);
  const listeners = new Map<string, Channel<unknown>>();
  fake.override('app_info', () => ({ version: '0.1.0', developer: false, mock: false, platform, serverUrl: null }));
  fake.override('plugin:notifications|register_listener', ({ event, handler }) => {
    listeners.set(String(event), handler as Channel<unknown>);
    return null;
  });
  fake.override('plugin:notifications|set_click_listener_active', () => null);
  const emit = (event: string, payload: unknown = {}) => {
    const channel = listeners.get(event);
    if (!channel) throw new Error(`nobody listens for ${event}`);
    channel.onmessage(payload);
  };
  return { fake, emit, listeners };
}

function count(fake: Fake, cmd: string) {
  return fake.calls.filter((c) => c.cmd === cmd).length;
}

describe('push wake-ups', () => {
  it('registers once the app is opened, and again when the token rotates', async () => {
    const { fake, emit, listeners } = phone();
    render(App);
    await screen.findByRole('heading', { level: 1, name: 'Nøkkel is ready' });
    await waitFor(() => expect(fake.calls.find((c) => c.cmd === 'push_sync')?.args).toEqual({ trigger: 'start' }));
    // Taps that started the app are delivered once someone listens.
    await waitFor(() =>
      expect(fake.calls.find((c) => c.cmd === 'plugin:notifications|set_click_listener_active')?.args).toEqual({ active: true }),
    );
    emit('push-token', { token: 'never read' });
    await waitFor(() => expect(fake.calls.filter((c) => c.cmd === 'push_sync').map((c) => c.args.trigger)).toEqual(['start', 'token_changed']));
  });

  it('does not register before the app is opened, nor on the desktop', async () => {
    const locked = phone({ ...READY, unlocked: false });
    render(App);
    await screen.findByRole('heading', { level: 1, name: 'Open Nøkkel' });
    expect(count(locked.fake, 'push_sync')).toBe(0);
  });

  it('a tapped notification shows the waiting login at once, whatever its payload says', async () => {
    const { fake, emit, listeners } = phone();
    // The long poll died while the phone slept: it ended in an error the screen shows.
    fake.override('pending_request', () => {
      throw { code: 'offline', message: 'offline' };
    });
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    await waitFor(() => expect(listeners.has('notificationClicked')).toBe(true));
    fake.override('pending_request', () => fake.request);
    fake.request = request({ service: 'NAV' });
    emit('notificationClicked', { id: -1, data: { type: 'login_waiting', id: 'forged', service: 'Evil' } });
    expect(await screen.findByRole('heading', { level: 1, name: 'Log in to NAV?' })).toBeTruthy();
    expect(document.body.textContent).not.toContain('Evil');
  });

  it('a push while the home screen listens makes it ask again at once', async () => {
    const { fake, emit, listeners } = phone();
    render(App);
    await screen.findByRole('heading', { level: 1, name: 'Nøkkel is ready' });
    await waitFor(() => expect(listeners.has('push-message')).toBe(true));
    const before = fake.calls.filter((c) => c.cmd === 'pending_request' && c.args.wait === 0).length;
    emit('push-message', { data: { v: '1', type: 'login_waiting', id: 'x' } });
    await waitFor(() =>
      expect(fake.calls.filter((c) => c.cmd === 'pending_request' && c.args.wait === 0).length).toBe(before + 1),
    );
  });
});

describe('the push setting', () => {
  it('is on by default and turns pushes off and on', async () => {
    const { fake } = phone();
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    const toggle = (await screen.findByLabelText('Notify me when a login waits')) as HTMLInputElement;
    expect(toggle.checked).toBe(true);
    await userEvent.click(toggle);
    await waitFor(() => expect(fake.calls.find((c) => c.cmd === 'set_push_enabled')?.args).toEqual({ enabled: false }));
    expect(await screen.findByText('Notifications are off. Open the app to see waiting logins.')).toBeTruthy();
    expect(toggle.checked).toBe(false);
    await userEvent.click(toggle);
    expect(await screen.findByText('Notifications are on.')).toBeTruthy();
    expect(toggle.checked).toBe(true);
  });

  it('says pushes are off when the phone refused notifications', async () => {
    const { fake } = phone();
    fake.override('push_status', () => ({ enabled: true, state: 'refused' }));
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    expect(await screen.findByText(/Notifications are turned off in the phone's settings/)).toBeTruthy();
    expect((screen.getByLabelText('Notify me when a login waits') as HTMLInputElement).checked).toBe(true);
  });

  it('keeps the choice when the server cannot be told, and says so', async () => {
    const { fake } = phone();
    fake.override('set_push_enabled', () => {
      throw { code: 'offline', message: 'offline' };
    });
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    await userEvent.click(await screen.findByLabelText('Notify me when a login waits'));
    expect(await screen.findByText(/sent to Nøkkel the next time the app opens/)).toBeTruthy();
    expect((screen.getByLabelText('Notify me when a login waits') as HTMLInputElement).checked).toBe(false);
  });

  it('speaks Bokmål and Nynorsk', async () => {
    phone();
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    await userEvent.click(await screen.findByLabelText('Nynorsk'));
    expect(await screen.findByLabelText('Varsle meg når ei innlogging ventar')).toBeTruthy();
    await userEvent.click(screen.getByLabelText('Bokmål'));
    expect(await screen.findByLabelText('Varsle meg når en innlogging venter')).toBeTruthy();
    setLang('en');
  });

  it('is not offered on the desktop', async () => {
    installFake(READY);
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    await screen.findByRole('heading', { level: 1, name: 'Settings' });
    expect(screen.queryByLabelText('Notify me when a login waits')).toBeNull();
  });
});
