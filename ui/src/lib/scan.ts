// Scanning the activation letter's QR code, on Android and iOS only (see
// src-tauri/src/mobile/qr_scan.rs). The plugin is loaded on demand so the desktop bundle
// does not carry it; its result still goes through check_code.
//
// `windowed: true` keeps the page in front of the camera (tauri-plugin-barcode-scanner
// 2.5.3 BarcodeScannerPlugin.kt `setupCamera`: `webView.bringToFront()` and a transparent
// background), so the page can show a Cancel button; `cancel()` rejects the pending scan
// with "cancelled" on both platforms.

export function canScan(platform: string): boolean {
  return platform === 'android' || platform === 'ios';
}

/** The class that makes the page transparent over the camera, with only the scan bar. */
export const SCANNING_CLASS = 'scanning';

/** The QR code's text, or null when the person cancelled or refused the camera. */
export async function scanLetter(): Promise<string | null> {
  const { scan, Format, checkPermissions, requestPermissions } = await import(
    '@tauri-apps/plugin-barcode-scanner'
  );
  let permission = await checkPermissions();
  if (permission !== 'granted') permission = await requestPermissions();
  if (permission !== 'granted') return null;
  document.documentElement.classList.add(SCANNING_CLASS);
  try {
    const result = await scan({ formats: [Format.QRCode], windowed: true });
    return result?.content ?? null;
  } catch (e) {
    if (String(e).includes('cancelled')) return null;
    throw e;
  } finally {
    document.documentElement.classList.remove(SCANNING_CLASS);
  }
}

/** Stops a running scan; the pending scanLetter() then resolves to null. */
export async function cancelScan(): Promise<void> {
  const { cancel } = await import('@tauri-apps/plugin-barcode-scanner');
  await cancel();
}

/**
 * One scan as a screen runs it: `scanning(true)` while the camera is up, then a scanned text
 * goes to `use`. Cancelling or refusing the camera ends it quietly; other failures are
 * thrown for the screen to show.
 */
export async function scanThen(
  scanning: (on: boolean) => void,
  use: (text: string) => Promise<void>,
): Promise<void> {
  scanning(true);
  try {
    const text = await scanLetter();
    scanning(false);
    if (text) await use(text);
  } finally {
    scanning(false);
  }
}

/** The scan bar's Cancel: stops the camera, and the screen is shown again. */
export async function stopScanning(scanning: (on: boolean) => void): Promise<void> {
  try {
    await cancelScan();
  } finally {
    scanning(false);
  }
}
