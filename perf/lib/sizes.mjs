// How much each scenario does in a full run, with --quick and with --tiny (the smoke run in npm test).
/** @typedef {import('./scenarios.mjs').Sizes} Sizes */

/** @type {Sizes} */
const FULL = {
  warmMs: 1000,
  durMs: 4000,
  fillMs: 1000,
  settleMs: 1000,
  multi16: 16,
  multi256: 256,
  rttSamples: 3000,
  rttWarm: 5000,
  churnMs: 5000,
  churnConcurrency: 16,
  idleStreams: 10_000,
  agentSessions: 1000,
  compressMs: 4000,
  latencyMs: 6000,
  linkRate: 12.5e6,
  compressDelayMs: 1,
  pairedRounds: 8,
  pairedMs: 2000,
  pairedPings: 1000,
  reqCallers: 8,
  reqWarmMs: 1000,
  reqDurMs: 3000,
  reqRounds: 3,
  scrapeNodes: 10_000,
  scrapeRates: [0.25, 0.5, 1, 2, 4],
  scrapeStepMs: 30_000,
  // reconnect: kills of the agent's connection, one per period (the 5 s; 1 s in the smoke run)
  reconnectCuts: 12,
  reconnectPeriodMs: 5000,
};
const QUICK_SIZES = {
  ...FULL,
  warmMs: 300,
  durMs: 1000,
  fillMs: 300,
  settleMs: 300,
  rttSamples: 300,
  rttWarm: 1000,
  churnMs: 1000,
  idleStreams: 1000,
  agentSessions: 50,
  compressMs: 1500,
  latencyMs: 3000,
  pairedRounds: 4,
  pairedMs: 1000,
  pairedPings: 300,
  reqWarmMs: 500,
  reqDurMs: 1500,
  reqRounds: 2,
  scrapeNodes: 1000,
  scrapeRates: [0.125, 0.25, 0.5, 1, 2, 4],
  scrapeStepMs: 3000,
  reconnectCuts: 6,
};
const TINY_SIZES = {
  ...QUICK_SIZES,
  warmMs: 150,
  durMs: 500,
  fillMs: 100,
  settleMs: 200,
  multi16: 4,
  multi256: 16,
  churnMs: 300,
  churnConcurrency: 4,
  idleStreams: 50,
  agentSessions: 4,
  compressMs: 500,
  latencyMs: 1500,
  rttSamples: 20,
  rttWarm: 20,
  compressDelayMs: 25, // the smoke run shares one link between compress and latency
  pairedRounds: 2,
  pairedMs: 300,
  pairedPings: 20,
  reqCallers: 2,
  reqWarmMs: 100,
  reqDurMs: 250,
  reqRounds: 1,
  scrapeNodes: 4,
  scrapeRates: [0.05],
  scrapeStepMs: 300,
  reconnectCuts: 2,
  reconnectPeriodMs: 1000,
};

/**
 * A fresh copy of one run size's table.
 * @param {'full' | 'quick' | 'tiny'} run
 * @returns {Sizes}
 */
export function sizesFor(run) {
  return { ...(run === 'tiny' ? TINY_SIZES : run === 'quick' ? QUICK_SIZES : FULL) };
}
