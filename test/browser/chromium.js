'use strict';
/*
 * Debian's Chromium driven by playwright-core (no Playwright browser download):
 *   apt-get install -y chromium
 * CHROMIUM=/path/to/chrome overrides the executable.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const EXECUTABLE = process.env.CHROMIUM || '/usr/bin/chromium';

/** Launches a headless Chromium with a fresh profile; resolves with { context, close() }. */
async function launch({ locale = 'en-US', viewport = { width: 1400, height: 900 } } = {}) {
    if (!fs.existsSync(EXECUTABLE)) {
        throw new Error(`No Chromium at ${EXECUTABLE}: apt-get install -y chromium (or set CHROMIUM)`);
    }
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-editor-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: EXECUTABLE,
        headless: true,
        locale,
        viewport,
        args: [
            '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync',
            `--lang=${locale}`,
        ],
    });
    return {
        context,
        async close() {
            await context.close().catch(() => undefined);
            fs.rmSync(profile, { recursive: true, force: true });
        },
    };
}

module.exports = { launch, EXECUTABLE };
