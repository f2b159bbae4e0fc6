// Translations: the same Fluent files as the server (assets/i18n/*/main.ftl), bundled at
// build time. The chosen language is kept on the device and sets <html lang>.
import { FluentBundle, FluentResource, type FluentVariable } from '@fluent/bundle';
import nbSource from '../../../assets/i18n/nb/main.ftl?raw';
import nnSource from '../../../assets/i18n/nn/main.ftl?raw';
import enSource from '../../../assets/i18n/en/main.ftl?raw';

export type Lang = 'nb' | 'nn' | 'en';
export const LANGS: Lang[] = ['nb', 'nn', 'en'];
const STORAGE_KEY = 'nokkel-lang';

function bundle(lang: Lang, source: string): FluentBundle {
  // No bidi isolation marks: all three languages are left-to-right, and the marks would
  // end up in screen reader output and tests.
  const b = new FluentBundle(lang, { useIsolating: false });
  b.addResource(new FluentResource(source));
  return b;
}

const bundles: Record<Lang, FluentBundle> = {
  nb: bundle('nb', nbSource),
  nn: bundle('nn', nnSource),
  en: bundle('en', enSource),
};

function initial(): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'nb' || saved === 'nn' || saved === 'en') return saved;
  } catch {
    // Storage can be unavailable; fall back to the system language.
  }
  const nav = (typeof navigator !== 'undefined' ? navigator.language : 'nb').toLowerCase();
  if (nav.startsWith('nn')) return 'nn';
  if (nav.startsWith('en')) return 'en';
  return 'nb';
}

export const locale = $state<{ lang: Lang }>({ lang: initial() });

if (typeof document !== 'undefined') document.documentElement.lang = locale.lang;

/** The message `id` in the current language; the id itself if it is missing. */
export function t(id: string, args?: Record<string, FluentVariable>): string {
  const b = bundles[locale.lang];
  const message = b.getMessage(id);
  if (!message?.value) return id;
  return b.formatPattern(message.value, args ?? null);
}

/** Whether `id` exists (used to pick a specific error message over the general one). */
export function has(id: string): boolean {
  return bundles[locale.lang].hasMessage(id);
}

export function setLang(lang: Lang): void {
  locale.lang = lang;
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Not saved; the choice still holds for this session.
  }
}

/** Date and time in the current language, e.g. "21. november 2026 kl. 13:05". */
export function dateTime(unixSeconds: number): string {
  return new Intl.DateTimeFormat(locale.lang === 'en' ? 'en-GB' : locale.lang, {
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  }).format(new Date(unixSeconds * 1000));
}

/** Time of day only, e.g. "13:05". */
export function timeOfDay(unixSeconds: number): string {
  return new Intl.DateTimeFormat(locale.lang === 'en' ? 'en-GB' : locale.lang, {
    hour: '2-digit',
    minute: '2-digit',
  }).format(new Date(unixSeconds * 1000));
}
