// The letter's QR scan on a phone: the camera shows through the page and a Cancel button
// stays on top. The barcode-scanner plugin is replaced by a stand-in that behaves as
// tauri-plugin-barcode-scanner 2.5.3 does: scan() waits, cancel() rejects it with
// "cancelled".
import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';
import { GOOD_CODE, installFake } from './fake';

const plugin = vi.hoisted(() => {
  let reject: ((e: unknown) => void) | null = null;
  let resolve: ((v: { content: string; format: string }) => void) | null = null;
  return {
    calls: [] as string[],
    Format: { QRCode: 'QR_CODE' },
    checkPermissions: async () => 'granted',
    requestPermissions: async () => 'granted',
    scan: (options: unknown) => {
      plugin.calls.push(`scan ${JSON.stringify(options)}`);
      return new Promise((res, rej) => {
        resolve = res;
        reject = rej;
      });
    },
    cancel: async () => {
      plugin.calls.push('cancel');
      reject?.('cancelled');
    },
    read: (content: string) => resolve?.({ content, format: 'QR_CODE' }),
  };
});
vi.mock('@tauri-apps/plugin-barcode-scanner', () => plugin);

async function openActivation() {
  const fake = installFake();
  fake.override('app_info', () => ({ version: '0.1.0', developer: false, mock: false, platform: 'android', serverUrl: null }));
  render(App);
  await userEvent.click(await screen.findByRole('button', { name: 'Activate the app' }));
  return fake;
}

describe('scanning the letter', () => {
  it('can be cancelled, and the form comes back as it was', async () => {
    await openActivation();
    await userEvent.type(screen.getByLabelText('National identity number or D-number'), '14838514058');
    await userEvent.click(screen.getByRole('button', { name: 'Scan the QR code in the letter' }));
    expect(await screen.findByText('Point the camera at the QR code in the letter.')).toBeTruthy();
    expect(document.documentElement.classList.contains('scanning')).toBe(true);
    expect(plugin.calls[plugin.calls.length - 1]).toContain('"windowed":true');
    await userEvent.click(screen.getByRole('button', { name: 'Stop scanning' }));
    expect(plugin.calls).toContain('cancel');
    await vi.waitFor(() => expect(document.documentElement.classList.contains('scanning')).toBe(false));
    expect(screen.queryByRole('button', { name: 'Stop scanning' })).toBeNull();
    expect((screen.getByLabelText('National identity number or D-number') as HTMLInputElement).value).toBe('14838514058');
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('fills in the code it read', async () => {
    await openActivation();
    await userEvent.click(screen.getByRole('button', { name: 'Scan the QR code in the letter' }));
    await screen.findByText('Point the camera at the QR code in the letter.');
    plugin.read(GOOD_CODE.replace(/-/g, ''));
    await vi.waitFor(() => expect((screen.getByLabelText('Activation code') as HTMLInputElement).value).toBe(GOOD_CODE));
    expect(screen.queryByRole('button', { name: 'Stop scanning' })).toBeNull();
  });
});
