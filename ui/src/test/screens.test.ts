import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from '../App.svelte';
import { GOOD_CODE, installFake, PASSCODE, READY, request } from './fake';
import { setLang } from '../lib/i18n.svelte';

/** Waits until the screen's heading reads `name` (screens change asynchronously). */
async function expectHeading(name: string) {
  expect(await screen.findByRole('heading', { level: 1, name })).toBeTruthy();
}

describe('welcome and activation', () => {
  it('starts on the welcome screen and opens activation', async () => {
    installFake();
    render(App);
    await expectHeading('Welcome to Nøkkel');
    await userEvent.click(screen.getByRole('button', { name: 'Activate the app' }));
    await expectHeading('Activate the app');
    // Focus moves to the new screen's heading so screen readers announce it.
    await waitFor(() => expect(document.activeElement).toBe(screen.getByRole('heading', { level: 1 })));
  });

  it('groups the code as it is typed, with the rule from Rust', async () => {
    const fake = installFake();
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Activate the app' }));
    const code = screen.getByLabelText('Activation code') as HTMLInputElement;
    await userEvent.type(code, 'abcdefg');
    await waitFor(() => expect(code.value).toBe('ABCDE-FG'));
    expect(fake.calls.some((c) => c.cmd === 'format_code')).toBe(true);
  });

  it('says a complete code has a typo before the form is sent', async () => {
    installFake();
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Activate the app' }));
    const code = screen.getByLabelText('Activation code');
    await userEvent.type(code, 'ABCDEFGHJKMNPQ8');
    expect(await screen.findByText(/seems to contain a typo/, { selector: '.error-message' })).toBeTruthy();
    await waitFor(() => expect(code.getAttribute('aria-invalid')).toBe('true'));
  });

  it('lists every field problem in an error summary that takes focus', async () => {
    installFake();
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Activate the app' }));
    await userEvent.type(screen.getByLabelText('National identity number or D-number'), '1234');
    await userEvent.click(screen.getByRole('button', { name: 'Continue' }));
    const summary = await screen.findByRole('alert');
    expect(summary.textContent).toContain('The national identity number has 11 digits.');
    expect(summary.textContent).toContain('The activation code has 15 characters.');
    await waitFor(() => expect(document.activeElement).toBe(summary));
  });

  async function fillActivation() {
    await userEvent.click(await screen.findByRole('button', { name: 'Activate the app' }));
    await userEvent.type(screen.getByLabelText('National identity number or D-number'), '14838514058');
    await userEvent.type(screen.getByLabelText('Activation code'), GOOD_CODE);
    await userEvent.click(screen.getByRole('button', { name: 'Continue' }));
    await expectHeading('How do you want to confirm logins?');
  }

  async function choosePasscode(first = PASSCODE, again = PASSCODE) {
    await userEvent.type(screen.getByLabelText('Passcode'), first);
    await userEvent.type(screen.getByLabelText('Repeat the passcode'), again);
    await userEvent.click(screen.getByRole('button', { name: 'Save passcode' }));
  }

  it('activates with a passcode, skips contact details and reaches home', async () => {
    const fake = installFake();
    render(App);
    await fillActivation();
    // Nothing goes to the server before the key's protection is chosen.
    expect(fake.calls.some((c) => c.cmd === 'enrol')).toBe(false);
    // No biometrics on this (desktop) device: the passcode is offered straight away.
    expect(screen.getByText('This device cannot check your face or fingerprint.')).toBeTruthy();
    await choosePasscode(PASSCODE, '583921');
    expect(await screen.findByText('The passcodes do not match.', { selector: '.error-message' })).toBeTruthy();
    await userEvent.clear(screen.getByLabelText('Repeat the passcode'));
    await userEvent.type(screen.getByLabelText('Repeat the passcode'), PASSCODE);
    await userEvent.click(screen.getByRole('button', { name: 'Save passcode' }));
    await expectHeading('How can we reach you?');
    await userEvent.click(screen.getByRole('button', { name: 'Skip for now' }));
    await expectHeading('Nøkkel is ready');
    expect(fake.calls.find((c) => c.cmd === 'enrol')?.args).toEqual({
      activation: { pid: '14838514058', code: GOOD_CODE, deviceName: 'My phone' },
      method: 'passcode',
      passcode: PASSCODE,
    });
  });

  it('shows the rule broken by a weak passcode', async () => {
    const fake = installFake();
    fake.override('enrol', () => {
      throw { code: 'weak_passcode', message: 'weak' };
    });
    render(App);
    await fillActivation();
    await choosePasscode('123456', '123456');
    expect(await screen.findByText('The passcode is too easy to guess. Choose another.', { selector: '.error-message' })).toBeTruthy();
  });

  it('keeps everything when the server cannot be reached, and succeeds on retry', async () => {
    const fake = installFake();
    let online = false;
    const original = { enrolled: true, unlocked: true, deviceName: 'My phone', verification: 'passcode' as const, contactDone: false };
    fake.override('enrol', () => {
      if (!online) throw { code: 'offline', message: 'unreachable' };
      fake.status = original;
      return original;
    });
    render(App);
    await fillActivation();
    await choosePasscode();
    expect(await screen.findByText(/We cannot reach Nøkkel/)).toBeTruthy();
    expect(screen.getByText('What you typed is kept. Try again when you are ready.')).toBeTruthy();
    expect((screen.getByLabelText('Passcode') as HTMLInputElement).value).toBe(PASSCODE);
    online = true;
    await userEvent.click(screen.getByRole('button', { name: 'Save passcode' }));
    await expectHeading('How can we reach you?');
  });

  it('goes back to the code, with the tries left, when the server says it is wrong', async () => {
    const fake = installFake();
    fake.override('enrol', () => {
      throw { code: 'wrong_code', message: 'wrong activation code; 3 attempts left before the letter locks' };
    });
    render(App);
    await fillActivation();
    await choosePasscode();
    await expectHeading('Activate the app');
    expect(await screen.findByText('The national identity number or the activation code is wrong. You have 3 attempts left.', { selector: '.error-message' })).toBeTruthy();
    expect((screen.getByLabelText('Activation code') as HTMLInputElement).value).toBe(GOOD_CODE);
    expect((screen.getByLabelText('National identity number or D-number') as HTMLInputElement).value).toBe('14838514058');
  });

  it('opens an activated app with the passcode', async () => {
    installFake({ ...READY, unlocked: false });
    render(App);
    await expectHeading('Open Nøkkel');
    await userEvent.type(screen.getByLabelText('Passcode'), '111222');
    await userEvent.click(screen.getByRole('button', { name: 'Open' }));
    expect(await screen.findByText('The passcode is wrong. Try again.')).toBeTruthy();
    await userEvent.type(screen.getByLabelText('Passcode'), PASSCODE);
    await userEvent.click(screen.getByRole('button', { name: 'Open' }));
    await expectHeading('Nøkkel is ready');
  });
});

describe('login requests', () => {
  it('shows a pending request, picks a number, confirms with the passcode and is approved', async () => {
    const fake = installFake(READY);
    fake.request = request();
    render(App);
    await expectHeading('Log in to Skatteetaten?');
    expect(screen.getByText('Firefox on Linux')).toBeTruthy();
    expect(screen.getByText('Oslo')).toBeTruthy();
    const numbers = within(screen.getByRole('list', { name: 'Which number do you see in the browser?' })).getAllByRole('button');
    expect(numbers.map((b) => b.textContent)).toEqual(['27', '64', '81']);
    await userEvent.click(numbers[1]);
    await expectHeading('Confirm that it is you');
    expect(screen.getByText('You are logging in to Skatteetaten with the number 64.')).toBeTruthy();
    await userEvent.type(screen.getByLabelText('Passcode'), '583920');
    await userEvent.click(screen.getByRole('button', { name: 'Confirm login' }));
    await expectHeading('You are logged in');
    expect(fake.calls.find((c) => c.cmd === 'approve')?.args).toEqual({ challengeId: 'c-1', number: 64, passcode: '583920' });
  });

  it('asks again after a wrong passcode, without leaving the screen', async () => {
    const fake = installFake(READY);
    fake.request = request();
    fake.override('approve', () => {
      throw { code: 'wrong_passcode', message: 'wrong' };
    });
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: '27' }));
    await userEvent.type(await screen.findByLabelText('Passcode'), '111222');
    await userEvent.click(screen.getByRole('button', { name: 'Confirm login' }));
    expect(await screen.findByText('The passcode is wrong. Try again.')).toBeTruthy();
    expect((screen.getByLabelText('Passcode') as HTMLInputElement).value).toBe('');
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Confirm that it is you');
  });

  it('says the number did not match when the server refuses the pick', async () => {
    const fake = installFake(READY);
    fake.request = request();
    fake.override('approve', () => {
      throw { code: 'wrong_number', message: 'wrong number' };
    });
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: '81' }));
    await userEvent.type(await screen.findByLabelText('Passcode'), '583920');
    await userEvent.click(screen.getByRole('button', { name: 'Confirm login' }));
    await expectHeading('The number did not match');
  });

  it('explains a request that expired while it was open', async () => {
    const fake = installFake(READY);
    fake.request = request();
    fake.override('approve', () => {
      throw { code: 'expired', message: 'expired' };
    });
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: '64' }));
    await userEvent.type(await screen.findByLabelText('Passcode'), '583920');
    await userEvent.click(screen.getByRole('button', { name: 'Confirm login' }));
    await expectHeading('The request has expired');
    expect(screen.getByText(/took too long/)).toBeTruthy();
  });

  it('notices on its own that an open request has run out, and approves nothing', async () => {
    const fake = installFake(READY);
    const now = Math.floor(Date.now() / 1000);
    fake.request = request({ startedAt: now - 119, expiresAt: now + 1 });
    render(App);
    await expectHeading('Log in to Skatteetaten?');
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('The request has expired'), {
      timeout: 3000,
    });
    expect(screen.getByText(/Nothing was approved/)).toBeTruthy();
    expect(fake.calls.some((c) => c.cmd === 'approve')).toBe(false);
  });

  it('offers to try again when offline, and recovers', async () => {
    const fake = installFake(READY);
    let online = false;
    fake.override('pending_request', () => {
      if (!online) throw { code: 'offline', message: 'unreachable' };
      return request();
    });
    render(App);
    expect(await screen.findByRole('heading', { name: 'No connection' })).toBeTruthy();
    expect(screen.getByText(/Check that you are online/)).toBeTruthy();
    online = true;
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    await expectHeading('Log in to Skatteetaten?');
  });

  it('reports "this wasn\'t me" with a signed denial', async () => {
    const fake = installFake(READY);
    fake.request = request();
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: "This wasn't me" }));
    await expectHeading("This wasn't me");
    await userEvent.click(screen.getByRole('button', { name: 'Stop and report' }));
    await expectHeading('Login stopped and reported');
    expect(fake.calls.find((c) => c.cmd === 'deny')?.args).toEqual({ challengeId: 'c-1', report: true });
  });

  it('denies a request', async () => {
    const fake = installFake(READY);
    fake.request = request();
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Deny' }));
    await expectHeading('Login denied');
    expect(fake.calls.find((c) => c.cmd === 'deny')?.args).toEqual({ challengeId: 'c-1', report: false });
  });
});

describe('history and settings', () => {
  it('lists the history with outcomes', async () => {
    const fake = installFake(READY);
    fake.history = [
      { at: 1_780_000_000, service: 'NAV', browser: 'Safari', os: 'macOS', place: null, outcome: 'reported' },
      { at: 1_779_000_000, service: 'Skatteetaten', browser: 'Firefox', os: 'Linux', place: 'Oslo', outcome: 'approved' },
    ];
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'History' }));
    await expectHeading('Login history');
    const items = await waitFor(() => {
      const found = document.querySelectorAll('.history li');
      expect(found.length).toBe(2);
      return found;
    });
    expect(items[0].textContent).toContain('Reported as not you');
    expect(items[1].textContent).toContain('Approved');
  });

  it('switches language, and the page language follows', async () => {
    installFake(READY);
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    await userEvent.click(await screen.findByLabelText('Nynorsk'));
    await expectHeading('Innstillingar');
    expect(document.documentElement.lang).toBe('nn');
    await userEvent.click(screen.getByLabelText('Bokmål'));
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Innstillinger');
    expect(document.documentElement.lang).toBe('nb');
    setLang('en');
  });

  it('hides the server address outside developer builds', async () => {
    installFake(READY);
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    await expectHeading('Settings');
    expect(screen.queryByLabelText('Server address')).toBeNull();
  });

  it('deactivates only after a second confirmation, then returns to welcome', async () => {
    const fake = installFake(READY);
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Settings' }));
    await userEvent.click(await screen.findByRole('button', { name: 'Deactivate this device' }));
    expect(fake.calls.some((c) => c.cmd === 'deactivate')).toBe(false);
    // It asks for the passcode afresh, as approving does.
    await userEvent.click(screen.getByRole('button', { name: 'Yes, deactivate' }));
    expect(await screen.findByText('The passcode has 6 to 12 digits.', { selector: '.error-message' })).toBeTruthy();
    expect(fake.calls.some((c) => c.cmd === 'deactivate')).toBe(false);
    await userEvent.type(screen.getByLabelText('Passcode'), '111111');
    await userEvent.click(screen.getByRole('button', { name: 'Yes, deactivate' }));
    expect(await screen.findByText('The passcode is wrong. Try again.', { selector: '.error-message' })).toBeTruthy();
    await userEvent.type(screen.getByLabelText('Passcode'), PASSCODE);
    await userEvent.click(screen.getByRole('button', { name: 'Yes, deactivate' }));
    await expectHeading('Welcome to Nøkkel');
  });

  it('saves contact details only with the passcode typed afresh', async () => {
    const fake = installFake({ ...READY, contactDone: false });
    render(App);
    await expectHeading('How can we reach you?');
    await userEvent.type(screen.getByLabelText('Mobile number'), '412 34 567');
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('The passcode has 6 to 12 digits.', { selector: '.error-message' })).toBeTruthy();
    expect(fake.calls.some((c) => c.cmd === 'save_contact')).toBe(false);
    await userEvent.type(screen.getByLabelText('Passcode'), '111111');
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('The passcode is wrong. Try again.', { selector: '.error-message' })).toBeTruthy();
    await userEvent.type(screen.getByLabelText('Passcode'), PASSCODE);
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));
    await expectHeading('Nøkkel is ready');
    expect(fake.calls.filter((c) => c.cmd === 'save_contact').pop()?.args).toEqual({
      contact: { mobile: '412 34 567', email: null },
      passcode: PASSCODE,
    });
  });
});

describe('the phone prompt: each answer has its own message, and a way out', () => {
  const BIOMETRIC = { ...READY, unlocked: false, verification: 'biometric' as const };

  // Codes from nokkel-client's VerifyError (one per biometric plugin rejection code, see
  // crates/nokkel-client/src/mobile/biometric.rs) and the text that tells the next step.
  const MESSAGES: [string, RegExp][] = [
    ['verification_cancelled', /The check was cancelled/],
    ['biometry_not_recognised', /was not recognised\. Try again/],
    ['biometry_lockout', /unlock it with its PIN, pattern or password/],
    ['biometry_not_enrolled', /Add one in the phone's settings/],
    ['verification_unavailable', /cannot check your face or fingerprint/],
  ];

  for (const [code, text] of MESSAGES) {
    it(`opening: ${code} stays on the screen with its next step`, async () => {
      const fake = installFake(BIOMETRIC);
      fake.override('unlock', () => {
        throw { code, message: code };
      });
      render(App);
      await expectHeading('Open Nøkkel');
      await userEvent.click(screen.getByRole('button', { name: 'Open' }));
      expect((await screen.findByRole('alert')).textContent).toMatch(text);
      expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Open Nøkkel');
    });
  }

  it('approving: lockout keeps the request and says what to do', async () => {
    const fake = installFake({ ...READY, verification: 'biometric' });
    fake.request = request();
    fake.override('approve', () => {
      throw { code: 'biometry_lockout', message: 'locked' };
    });
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: '64' }));
    await userEvent.click(await screen.findByRole('button', { name: 'Confirm with face or fingerprint' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toMatch(/unlock it with its PIN/);
    expect(alert.textContent).toMatch(/kept/);
  });

  it('after a fingerprint was added: explains, starts over on this phone, and reaches activation', async () => {
    const fake = installFake(BIOMETRIC);
    let attempts = 0;
    fake.override('unlock', () => {
      attempts += 1;
      throw { code: 'key_invalidated', message: 'invalidated' };
    });
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Open' }));
    await expectHeading('Set up Nøkkel again on this phone');
    expect(screen.getByText(/have changed/)).toBeTruthy();
    // Not a loop: nothing on this screen asks for the finger again.
    expect(screen.queryByRole('button', { name: 'Open' })).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: 'Start over on this phone' }));
    // A second, explicit yes before anything is deleted.
    expect(fake.calls.some((c) => c.cmd === 'reset_device')).toBe(false);
    await userEvent.click(screen.getByRole('button', { name: 'Yes, start over' }));
    await expectHeading('Welcome to Nøkkel');
    expect(fake.calls.filter((c) => c.cmd === 'reset_device')).toHaveLength(1);
    expect(attempts).toBe(1);
    await userEvent.click(screen.getByRole('button', { name: 'Activate the app' }));
    await expectHeading('Activate the app');
  });

  it('approving with an invalidated key goes to the same way out', async () => {
    const fake = installFake({ ...READY, verification: 'biometric' });
    fake.request = request();
    fake.override('approve', () => {
      throw { code: 'key_invalidated', message: 'invalidated' };
    });
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: '27' }));
    await userEvent.click(await screen.findByRole('button', { name: 'Confirm with face or fingerprint' }));
    await expectHeading('Set up Nøkkel again on this phone');
  });

  it('offers the passcode when the phone cannot protect the key with face or finger', async () => {
    const fake = installFake();
    fake.override('biometric_status', () => ({ available: true, kind: 'fingerprint' }));
    fake.override('enrol', ({ method }) => {
      if (method === 'biometric') throw { code: 'verification_unavailable', message: 'weak only' };
      fake.status = { ...fake.status, enrolled: true, unlocked: true, verification: 'passcode' };
      return fake.status;
    });
    render(App);
    await userEvent.click(await screen.findByRole('button', { name: 'Activate the app' }));
    await userEvent.type(screen.getByLabelText('National identity number or D-number'), '14838514058');
    await userEvent.type(screen.getByLabelText('Activation code'), GOOD_CODE);
    await userEvent.click(screen.getByRole('button', { name: 'Continue' }));
    await userEvent.click(await screen.findByRole('button', { name: 'Use fingerprint' }));
    expect(await screen.findByLabelText('Passcode')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Use fingerprint' })).toBeNull();
  });

  it('tells Rust the page language, for the prompt texts', async () => {
    const fake = installFake(READY);
    render(App);
    await expectHeading('Nøkkel is ready');
    await waitFor(() => expect(fake.calls.some((c) => c.cmd === 'set_language' && c.args.lang === 'en')).toBe(true));
  });
});

describe('a key missing for another reason', () => {
  it('says so, instead of blaming a fingerprint, and offers the same way out', async () => {
    const fake = installFake({ ...READY, unlocked: false });
    fake.override('unlock', () => {
      throw { code: 'no_device_key', message: 'no key' };
    });
    render(App);
    await userEvent.type(await screen.findByLabelText('Passcode'), PASSCODE);
    await userEvent.click(screen.getByRole('button', { name: 'Open' }));
    await expectHeading('Set up Nøkkel again on this phone');
    expect(screen.getByText(/The key on this device is missing/)).toBeTruthy();
    expect(screen.queryByText(/have changed/)).toBeNull();
    expect(screen.getByRole('button', { name: 'Start over on this phone' })).toBeTruthy();
  });
});
