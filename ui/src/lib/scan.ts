// Scanning the activation letter's QR code, on Android and iOS only (see
// src-tauri/src/mobile/qr_scan.rs). The plugin is loaded on demand so the desktop bundle
// does not carry it; its result still goes through check_code.

export function canScan(platform: string): boolean {
  return platform === 'android' || platform === 'ios';
}

/** The QR code's text, or null when the person cancelled. */
export async function scanLetter(): Promise<string | null> {
  const { scan, Format, checkPermissions, requestPermissions } = await import(
    '@tauri-apps/plugin-barcode-scanner'
  );
  let permission = await checkPermissions();
  if (permission !== 'granted') permission = await requestPermissions();
  if (permission !== 'granted') return null;
  const result = await scan({ formats: [Format.QRCode], windowed: false });
  return result?.content ?? null;
}
