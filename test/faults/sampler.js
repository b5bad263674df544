'use strict';
/*
 * Loaded by a Node-RED instance's settings.js (see node-red.js): once a second, one JSON line
 * {t, rss, heapUsed, heapTotal, external, elu, delay: {mean, p50, p99, max}} appended to `file`.
 * Event-loop delay is perf_hooks.monitorEventLoopDelay over the last second, in ms.
 * With node --expose-gc and SAMPLER_GC_EVERY=k in the environment, every k-th sample is taken
 * right after a full collection (gc: true): the live heap, without the collector's sawtooth.
 */
const fs = require('fs');
const { monitorEventLoopDelay, performance } = require('perf_hooks');

function start(file, everyMs = 1000) {
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    let lastElu = performance.eventLoopUtilization();
    const fd = fs.openSync(file, 'a');
    const ms = (ns) => Math.round(ns / 1e4) / 100;
    const gcEvery = typeof global.gc === 'function' ? Number(process.env.SAMPLER_GC_EVERY || 0) : 0;
    let n = 0;
    const timer = setInterval(() => {
        const gc = gcEvery > 0 && ++n % gcEvery === 0;
        if (gc) global.gc();
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
        if (gc) line.gc = true;
        h.reset();
        fs.writeSync(fd, `${JSON.stringify(line)}\n`);
    }, everyMs);
    timer.unref();
}

module.exports = { start };
