'use strict';
/*
 * Loaded by a Node-RED instance's settings.js (see node-red.js): once a second, one JSON line
 * {t, rss, heapUsed, heapTotal, external, elu, delay: {mean, p50, p99, max}} appended to `file`.
 * Event-loop delay is perf_hooks.monitorEventLoopDelay over the last second, in ms.
 */
const fs = require('fs');
const { monitorEventLoopDelay, performance } = require('perf_hooks');

function start(file, everyMs = 1000) {
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    let lastElu = performance.eventLoopUtilization();
    const fd = fs.openSync(file, 'a');
    const ms = (ns) => Math.round(ns / 1e4) / 100;
    const timer = setInterval(() => {
        const m = process.memoryUsage();
        const elu = performance.eventLoopUtilization(lastElu);
        lastElu = performance.eventLoopUtilization();
        const line = {
            t: Date.now(),
            rss: m.rss,
            heapUsed: m.heapUsed,
            heapTotal: m.heapTotal,
            external: m.external,
            elu: Math.round(elu.utilization * 1000) / 1000,
            delay: { mean: ms(h.mean), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) },
        };
        h.reset();
        fs.writeSync(fd, `${JSON.stringify(line)}\n`);
    }, everyMs);
    timer.unref();
}

module.exports = { start };
