import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium; CI installs it (the tests fail, never skip, without it). */
export const chromiumPath = '/usr/bin/chromium';

/**
 * Headless Chromium with everything that would reach the network switched off: the machines
 * running the tests have no internet, and the page must not need it anyway.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install -y chromium`);
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // The same font rendering on every machine, as far as Chromium allows.
      '--font-render-hinting=none',
      '--force-color-profile=srgb',
    ],
  });
}
