'use strict';
/*
 * Where a Node-RED process spent its time: sums the self time of V8 CPU profiles
 * (.cpuprofile files, e.g. from BENCH_CPU_PROF with bench/real.js) by module, and lists
 * the functions with the most self time.
 *
 *   node bench/profile-summary.js <dir or file> [top]
 */
const fs = require('fs');
const path = require('path');

/** The part of the code a profile frame belongs to. */
function moduleOf(url, functionName) {
    if (!url) return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
    if (url.includes('node-red-contrib-kafka-connector')) return 'this package';
    if (url.includes('/kafkajs/')) return 'kafkajs';
    if (url.includes('@node-red/')) return `Node-RED (${url.split('@node-red/')[1].split('/')[0]})`;
    if (url.includes('/node-red/')) return 'Node-RED';
    if (url.startsWith('node:')) return 'Node.js core';
    if (url.includes('node_modules/')) return url.split('node_modules/').pop().split('/')[0];
    return 'vm (function nodes) / other';
}

function summarize(files, top) {
    const byModule = new Map();
    const byFunction = new Map();
    let total = 0;
    for (const file of files) {
        const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
        const ms = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
        const hits = new Map();
        for (const id of profile.samples) hits.set(id, (hits.get(id) || 0) + 1);
        for (const node of profile.nodes) {
            const n = hits.get(node.id) || 0;
            if (!n) continue;
            const { url, functionName, lineNumber } = node.callFrame;
            const t = n * ms;
            total += t;
            const mod = moduleOf(url, functionName);
            byModule.set(mod, (byModule.get(mod) || 0) + t);
            const fn = `${functionName || '(anonymous)'} ${url ? `${path.basename(url)}:${lineNumber + 1}` : ''} [${mod}]`;
            byFunction.set(fn, (byFunction.get(fn) || 0) + t);
        }
    }
    const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
    console.log(`${files.length} profile(s), ${(total / 1000).toFixed(1)} s sampled\n\nself time by module:`);
    for (const [m, t] of [...byModule].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(t)}  ${m}`);
    console.log(`\ntop ${top} functions by self time:`);
    for (const [f, t] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(t)}  ${f}`);
}

const target = process.argv[2];
if (!target) {
    console.error('usage: node bench/profile-summary.js <dir or .cpuprofile> [top]');
    process.exit(2);
}
const files = fs.statSync(target).isDirectory()
    ? fs.readdirSync(target).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(target, f))
    : [target];
summarize(files, Number(process.argv[3] || 25));
