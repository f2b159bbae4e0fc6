// Moving Nøkkel between phones: the new phone (from the welcome screen) and the old phone
// (from Settings), over the scripted commands in fake.ts.
import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';
import { installFake, PASSCODE, READY, TRANSFER_CODE, UNKNOWN_TRANSFER } from './fake';

async function expectHeading(name: string) {
  expect(await screen.findByRole('heading', { level: 1, name })).toBeTruthy();
}

async function expectFocusOnHeading(name: string) {
  await expectHeading(name);
  await waitFor(() => expect(document.activeElement).toBe(screen.getByRole('heading', { level: 1, name })));
}

describe('new phone: move from the old phone', () => {
  async function showCode() {
    await userEvent.click(await screen.findByRole('button', { name: 'Move from my old phone' }));
    await expectFocusOnHeading('Move Nøkkel from your old phone');
    await userEvent.clear(screen.getByLabelText('Name of this device'));
    await userEvent.type(screen.getByLabelText('Name of this device'), 'New phone');
    await userEvent.type(screen.getByLabelText('Passcode'), PASSCODE);
    await userEvent.type(screen.getByLabelText('Repeat the passcode'), PASSCODE);
    await userEvent.click(screen.getByRole('button', { name: 'Save and show the code' }));
    await expectFocusOnHeading('Type this code on your old phone');
  }

  it('shows the code large and as a QR code, waits, and ends registered', async () => {
    const fake = installFake();
    render(App);
    await showCode();
    expect(fake.calls.find((c) => c.cmd === 'transfer_start')?.args).toEqual({
      deviceName: 'New phone',
      method: 'passcode',
      passcode: PASSCODE,
    });
    expect(document.querySelector('.transfer-code')?.textContent).toContain(TRANSFER_CODE);
    const qr = screen.getByRole('img', { name: 'QR code with the same transfer code' }) as HTMLImageElement;
    expect(qr.src.startsWith('data:image/svg+xml')).toBe(true);
    // The waiting is announced politely, with until when the code works.
    const waiting = screen.getByRole('status');
    expect(waiting.textContent).toMatch(/^Waiting for your old phone\. The code works until \d\d:\d\d\.$/);
    fake.transfer = 'enrolled';
    await expectFocusOnHeading('This phone is now your Nøkkel');
    await userEvent.click(screen.getByRole('button', { name: 'Open Nøkkel' }));
    // Registered but not yet opened: the passcode chosen here opens it.
    await expectHeading('Open Nøkkel');
    await userEvent.type(screen.getByLabelText('Passcode'), PASSCODE);
    await userEvent.click(screen.getByRole('button', { name: 'Open' }));
    await expectHeading('Nøkkel is ready');
  });

  it('says so when the old phone refuses, and starts again with a new code', async () => {
    const fake = installFake();
    render(App);
    await showCode();
    fake.transfer = 'refused';
    await expectFocusOnHeading('The move was refused');
    fake.transfer = 'waiting';
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    await expectHeading('Move Nøkkel from your old phone');
  });

  it('says so when the code expired unused', async () => {
    const fake = installFake();
    render(App);
    await showCode();
    fake.transfer = 'expired';
    await expectFocusOnHeading('The code has expired');
    expect(screen.getByRole('button', { name: 'Try again' })).toBeTruthy();
  });

  it('keeps the code on screen when the wait fails, and waits again on request', async () => {
    const fake = installFake();
    let online = false;
    fake.override('transfer_wait', () => {
      if (!online) throw { code: 'offline', message: 'unreachable' };
      return { status: 'refused' };
    });
    render(App);
    await showCode();
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('We cannot reach Nøkkel');
    expect(document.querySelector('.transfer-code')?.textContent).toContain(TRANSFER_CODE);
    online = true;
    await userEvent.click(within(alert).getByRole('button', { name: 'Try again' }));
    await expectHeading('The move was refused');
  });

  it('shows the rule a weak passcode breaks, and starts nothing without a name', async () => {
    const fake = installFake();
    fake.override('transfer_start', () => {
      throw { code: 'weak_passcode', message: 'weak' };
    });
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Move from my old phone' }));
    await userEvent.clear(screen.getByLabelText('Name of this device'));
    await userEvent.type(screen.getByLabelText('Passcode'), '123456');
    await userEvent.type(screen.getByLabelText('Repeat the passcode'), '123456');
    await userEvent.click(screen.getByRole('button', { name: 'Save and show the code' }));
    const summary = await screen.findByRole('alert');
    expect(summary.textContent).toContain('Give the device a name.');
    expect(fake.calls.some((c) => c.cmd === 'transfer_start')).toBe(false);
    await userEvent.type(screen.getByLabelText('Name of this device'), 'New phone');
    await userEvent.click(screen.getByRole('button', { name: 'Save and show the code' }));
    expect(await screen.findByText('The passcode is too easy to guess. Choose another.', { selector: '.error-message' })).toBeTruthy();
  });
});

describe('old phone: move to a new phone', () => {
  async function openMove() {
    await userEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    await userEvent.click(await screen.findByRole('button', { name: 'Move to a new phone' }));
    await expectFocusOnHeading('Move Nøkkel to a new phone');
  }

  async function lookUp(typed: string) {
    await userEvent.type(screen.getByLabelText('Transfer code'), typed);
    await userEvent.click(screen.getByRole('button', { name: 'Continue' }));
  }

  it('groups the code as typed, shows the new phone, and keeps this phone after the passcode', async () => {
    const fake = installFake(READY);
    render(App);
    await openMove();
    const field = screen.getByLabelText('Transfer code') as HTMLInputElement;
    await userEvent.type(field, 'k4rt2w');
    await waitFor(() => expect(field.value).toBe('K4R-T2W'));
    await userEvent.type(field, 'q5b');
    await userEvent.click(screen.getByRole('button', { name: 'Continue' }));
    await expectFocusOnHeading('Is this your new phone?');
    const facts = document.querySelector('dl')!;
    expect(facts.textContent).toContain("Kari's new phone");
    expect(facts.textContent).toContain('Android phone');
    expect((screen.getByLabelText('Keep using this phone too') as HTMLInputElement).checked).toBe(true);
    // Nothing is signed without the passcode typed afresh.
    await userEvent.click(screen.getByRole('button', { name: 'Move Nøkkel' }));
    expect(await screen.findByText('The passcode has 6 to 12 digits.', { selector: '.error-message' })).toBeTruthy();
    await userEvent.type(screen.getByLabelText('Passcode'), '111111');
    await userEvent.click(screen.getByRole('button', { name: 'Move Nøkkel' }));
    expect(await screen.findByText('The passcode is wrong. Try again.', { selector: '.error-message' })).toBeTruthy();
    await userEvent.type(screen.getByLabelText('Passcode'), PASSCODE);
    await userEvent.click(screen.getByRole('button', { name: 'Move Nøkkel' }));
    await expectFocusOnHeading('Your new phone is set up');
    expect(fake.calls.filter((c) => c.cmd === 'transfer_approve').pop()?.args).toEqual({
      transferId: 't-1',
      retire: false,
      passcode: PASSCODE,
    });
    await userEvent.click(screen.getByRole('button', { name: 'Back to home' }));
    await expectHeading('Nøkkel is ready');
  });

  it('removes this phone when asked, and then it is no longer registered', async () => {
    const fake = installFake(READY);
    render(App);
    await openMove();
    await lookUp(TRANSFER_CODE);
    await expectHeading('Is this your new phone?');
    await userEvent.click(screen.getByLabelText('Remove this phone from Nøkkel'));
    await userEvent.type(screen.getByLabelText('Passcode'), PASSCODE);
    await userEvent.click(screen.getByRole('button', { name: 'Move Nøkkel' }));
    await expectFocusOnHeading('This phone is no longer registered');
    expect(screen.getByText(/"Kari's new phone" now confirms your logins/)).toBeTruthy();
    expect(fake.calls.filter((c) => c.cmd === 'transfer_approve').pop()?.args.retire).toBe(true);
    await userEvent.click(screen.getByRole('button', { name: 'Done' }));
    await expectHeading('Welcome to Nøkkel');
  });

  it('refuses a phone the person does not know, without asking for the passcode', async () => {
    const fake = installFake(READY);
    render(App);
    await openMove();
    await lookUp(TRANSFER_CODE);
    await userEvent.click(await screen.findByRole('button', { name: 'This is not my phone' }));
    await expectFocusOnHeading('The move was stopped');
    expect(fake.calls.some((c) => c.cmd === 'transfer_approve')).toBe(false);
    expect(fake.calls.find((c) => c.cmd === 'transfer_refuse')?.args).toEqual({ transferId: 't-1' });
  });

  it('lists a typo in an error summary that takes focus, and never asks the server', async () => {
    installFake(READY);
    render(App);
    await openMove();
    await lookUp('K4R-T2W-Q5C');
    const summary = await screen.findByRole('alert');
    expect(summary.textContent).toContain('The transfer code seems to contain a typo.');
    await waitFor(() => expect(document.activeElement).toBe(summary));
    expect(screen.getByLabelText('Transfer code').getAttribute('aria-invalid')).toBe('true');
  });

  it('gives one message for a code that is unknown, expired or used', async () => {
    const fake = installFake(READY);
    render(App);
    await openMove();
    await lookUp(UNKNOWN_TRANSFER);
    const text = 'This code is not valid. It may have expired or already been used. Get a new code on the new phone.';
    expect(await screen.findByText(text, { selector: '.error-message' })).toBeTruthy();
    // A code that runs out between looking it up and approving says the same.
    fake.override('transfer_approve', () => {
      throw { code: 'unknown_transfer', message: 'gone' };
    });
    await userEvent.clear(screen.getByLabelText('Transfer code'));
    await lookUp(TRANSFER_CODE);
    await expectHeading('Is this your new phone?');
    await userEvent.type(screen.getByLabelText('Passcode'), PASSCODE);
    await userEvent.click(screen.getByRole('button', { name: 'Move Nøkkel' }));
    await expectHeading('Move Nøkkel to a new phone');
    expect(await screen.findByText(text, { selector: '.error-message' })).toBeTruthy();
  });

  it('says when Nøkkel is blocked for the person', async () => {
    const fake = installFake(READY);
    fake.override('transfer_lookup', () => {
      throw { code: 'account_blocked', message: 'blocked' };
    });
    render(App);
    await openMove();
    await lookUp(TRANSFER_CODE);
    expect((await screen.findByRole('alert')).textContent).toContain('Nøkkel is blocked for you.');
  });
});
