// Paused app logins on Home ("this wasn't me", or a suspected copy) and «Resume logins».
import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';
import { installFake, PASSCODE, READY, request } from './fake';
import { setLang } from '../lib/i18n.svelte';

const PAUSED_TEXT = /Logging in with the app is paused because you reported a login that was not you \(or because we saw signs your app was copied\)/;

async function expectHeading(name: string) {
  expect(await screen.findByRole('heading', { level: 1, name })).toBeTruthy();
}

describe('paused app logins', () => {
  it('says nothing of a pause while app logins work', async () => {
    const fake = installFake(READY);
    render(App);
    await expectHeading('Nøkkel is ready');
    await waitFor(() => expect(fake.calls.some((c) => c.cmd === 'account_status')).toBe(true));
    expect(screen.queryByText(PAUSED_TEXT)).toBeNull();
    expect(screen.queryByRole('button', { name: 'Resume logins' })).toBeNull();
  });

  it('shows the pause as a status message with a «Resume logins» button', async () => {
    const fake = installFake(READY);
    fake.paused = true;
    render(App);
    await expectHeading('Logging in with the app is paused');
    const notice = screen.getByText(PAUSED_TEXT);
    expect(notice.closest('[role="status"]')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Resume logins' })).toBeTruthy();
    // Nothing is resumed before the person confirms it.
    expect(fake.calls.some((c) => c.cmd === 'resume_logins')).toBe(false);
  });

  it('resumes only with the passcode typed afresh, then says logins are resumed', async () => {
    const fake = installFake(READY);
    fake.paused = true;
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Resume logins' }));
    await userEvent.click(screen.getByRole('button', { name: 'Yes, resume logins' }));
    expect(await screen.findByText('The passcode has 6 to 12 digits.', { selector: '.error-message' })).toBeTruthy();
    expect(fake.calls.some((c) => c.cmd === 'resume_logins')).toBe(false);
    await userEvent.type(screen.getByLabelText('Passcode'), '111111');
    await userEvent.click(screen.getByRole('button', { name: 'Yes, resume logins' }));
    expect(await screen.findByText('The passcode is wrong. Try again.', { selector: '.error-message' })).toBeTruthy();
    expect((screen.getByLabelText('Passcode') as HTMLInputElement).value).toBe('');
    expect(fake.paused).toBe(true);
    await userEvent.type(screen.getByLabelText('Passcode'), PASSCODE);
    await userEvent.click(screen.getByRole('button', { name: 'Yes, resume logins' }));
    const done = await screen.findByText('Logins are resumed. You can log in with the app again.');
    expect(done.closest('[role="status"]')).toBeTruthy();
    expect(fake.paused).toBe(false);
    const sent = fake.calls.filter((c) => c.cmd === 'resume_logins').map((c) => c.args);
    expect(sent[sent.length - 1]).toEqual({ passcode: PASSCODE });
    await expectHeading('Nøkkel is ready');
    expect(screen.queryByText(PAUSED_TEXT)).toBeNull();
    expect(screen.queryByRole('button', { name: 'Resume logins' })).toBeNull();
  });

  it('on a phone, the platform prompt verifies: no passcode is asked or sent', async () => {
    const fake = installFake({ ...READY, verification: 'biometric' });
    fake.paused = true;
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Resume logins' }));
    expect(screen.queryByLabelText('Passcode')).toBeNull();
    expect(screen.getByText('Your phone will ask for your face or fingerprint.')).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: 'Yes, resume logins' }));
    expect(await screen.findByText(/Logins are resumed/)).toBeTruthy();
    expect(fake.calls.find((c) => c.cmd === 'resume_logins')?.args).toEqual({ passcode: null });
  });

  it('says a block cannot be lifted here and points to support and a new letter', async () => {
    const fake = installFake(READY);
    fake.paused = true;
    fake.override('resume_logins', () => {
      throw { code: 'account_blocked', message: 'blocked' };
    });
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Resume logins' }));
    await userEvent.type(screen.getByLabelText('Passcode'), PASSCODE);
    await userEvent.click(screen.getByRole('button', { name: 'Yes, resume logins' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toMatch(/Resuming cannot lift this/);
    expect(alert.textContent).toMatch(/800 00 000/);
    expect(alert.textContent).toMatch(/activation letter/);
    expect(screen.getByText(PAUSED_TEXT)).toBeTruthy();
  });

  it('a key that can no longer be opened leads to the way out', async () => {
    const fake = installFake({ ...READY, verification: 'biometric' });
    fake.paused = true;
    fake.override('resume_logins', () => {
      throw { code: 'key_invalidated', message: 'gone' };
    });
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Resume logins' }));
    await userEvent.click(screen.getByRole('button', { name: 'Yes, resume logins' }));
    await expectHeading('Set up Nøkkel again on this phone');
  });

  it('after "this wasn\'t me", home shows the pause', async () => {
    const fake = installFake(READY);
    fake.request = request();
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: "This wasn't me" }));
    await userEvent.click(await screen.findByRole('button', { name: 'Stop and report' }));
    await expectHeading('Login stopped and reported');
    expect(screen.getByText(/you can resume logins under Home/)).toBeTruthy();
    fake.request = null;
    await userEvent.click(screen.getByRole('button', { name: 'Back to home' }));
    await expectHeading('Logging in with the app is paused');
    expect(screen.getByText(PAUSED_TEXT)).toBeTruthy();
  });

  it('names the button as the login page does, in Bokmål and Nynorsk', async () => {
    for (const [lang, button, heading] of [
      ['nb', 'Gjenoppta innlogging', 'Innlogging med appen er satt på pause'],
      ['nn', 'Ta opp att innlogging', 'Innlogging med appen er sett på pause'],
    ]) {
      const fake = installFake(READY);
      fake.paused = true;
      setLang(lang as 'nb' | 'nn');
      const { unmount } = render(App);
      await expectHeading(heading);
      expect(screen.getByRole('button', { name: button })).toBeTruthy();
      unmount();
    }
    setLang('en');
  });
});
