'use strict';
/*
 * Runs the integration specs on another Node-RED release:
 *   node scripts/test-node-red.js 3.1.0 [mocha args...]
 * The release is installed once into .kafka/node-red/<version>/ (git-ignored).
 */
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const version = process.argv[2];
if (!version) {
    console.error('usage: node scripts/test-node-red.js <node-red version> [mocha args...]');
    process.exit(2);
}
const root = path.join(__dirname, '..');
const dir = path.join(root, '.kafka', 'node-red', version);
const marker = path.join(dir, '.complete');
if (!fs.existsSync(marker)) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'node-red-under-test', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--omit=optional', `node-red@${version}`], { cwd: dir, stdio: 'inherit' });
    fs.writeFileSync(marker, version);
}
const installed = require(path.join(dir, 'node_modules', 'node-red', 'package.json')).version;
console.log(`integration specs on Node-RED ${installed}`);
const mocha = path.join(root, 'node_modules', '.bin', 'mocha');
const args = ['--config', '.mocharc.integration.json', ...process.argv.slice(3)];
const r = spawnSync(mocha, args, { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_RED_PATH: dir } });
process.exit(r.status === null ? 1 : r.status);
