// The BullMQ side of mentorops' queue benchmark, on the same Redis (127.0.0.1 only).
// bench/src/bin/queue.rs runs it; its last line of output is JSON.
//
//   node bench/bullmq/bench.js throughput <jobs> <concurrency> [redis-url]
//     adds <jobs> no-op jobs with addBulk, then starts one Worker and times it from its start
//     until all <jobs> have completed.
//   node bench/bullmq/bench.js delay <jobs> [redis-url]
//     adds <jobs> delayed jobs all due at the same whole second about 3 s ahead; a Worker
//     (concurrency 50) records, for each, when its processor started minus that instant.
//
// Each run uses its own queue name and obliterates it afterwards (no FLUSHALL).
'use strict';
const { Queue, Worker } = require('bullmq');
const { version } = require('bullmq/package.json');
const IORedis = require('ioredis');

// INFO commandstats as { command: calls } (commands run inside Lua scripts included).
async function commandCalls(connection) {
  const c = new IORedis(connection);
  const info = await c.info('commandstats');
  await c.quit();
  const calls = {};
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) calls[m[1]] = Number(m[2]);
  }
  return calls;
}

function callsDelta(before, after) {
  const d = {};
  for (const [k, v] of Object.entries(after)) {
    const n = v - (before[k] || 0);
    if (n > 0) d[k] = n;
  }
  return d;
}

function connectionFrom(url) {
  const u = new URL(url || 'redis://127.0.0.1:6379');
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
    throw new Error(`refusing to benchmark against ${u.hostname}: loopback only`);
  }
  return { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
}

async function addAll(queue, jobs) {
  for (let i = 0; i < jobs.length; i += 1000) {
    await queue.addBulk(jobs.slice(i, i + 1000));
  }
}

async function throughput(n, concurrency, connection) {
  const name = `mentorops-bench-bullmq-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  const jobs = [];
  for (let i = 0; i < n; i++) jobs.push({ name: 'noop', data: { n: i } });
  const t0 = process.hrtime.bigint();
  await addAll(queue, jobs);
  const pushMs = Number(process.hrtime.bigint() - t0) / 1e6;
  let done = 0;
  let resolve;
  const finished = new Promise((r) => (resolve = r));
  const before = await commandCalls(connection);
  const start = process.hrtime.bigint();
  const worker = new Worker(name, async () => {}, { connection, concurrency });
  worker.on('completed', () => {
    done += 1;
    if (done === n) resolve();
  });
  await finished;
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  await worker.close();
  const commandstats = callsDelta(before, await commandCalls(connection));
  await queue.obliterate({ force: true });
  await queue.close();
  return { system: 'bullmq', version, mode: 'throughput', jobs: n, concurrency, secs,
           jobs_per_sec: n / secs, push_ms: pushMs, queue: name, commandstats };
}

async function delay(n, connection) {
  const name = `mentorops-bench-bullmq-delay-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  // Due at a whole second at least 3 s ahead, like the offers' deadlines.
  const dueAt = Math.ceil((Date.now() + 3000) / 1000) * 1000;
  const late = [];
  let resolve;
  const finished = new Promise((r) => (resolve = r));
  const worker = new Worker(
    name,
    async () => {
      late.push(Date.now() - dueAt);
      if (late.length === n) resolve();
    },
    { connection, concurrency: 50 },
  );
  const jobs = [];
  for (let i = 0; i < n; i++) jobs.push({ name: 'due', data: { n: i }, opts: { delay: dueAt - Date.now() } });
  await addAll(queue, jobs);
  await finished;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  late.sort((a, b) => a - b);
  const at = (q) => late[Math.round((late.length - 1) * q)];
  return { system: 'bullmq', version, mode: 'delay', jobs: n, min_ms: late[0], p50_ms: at(0.5),
           p95_ms: at(0.95), p99_ms: at(0.99), max_ms: late[late.length - 1], queue: name };
}

async function main() {
  const [mode, ...args] = process.argv.slice(2);
  let result;
  if (mode === 'throughput') {
    result = await throughput(Number(args[0] || 20000), Number(args[1] || 1), connectionFrom(args[2]));
  } else if (mode === 'delay') {
    result = await delay(Number(args[0] || 1000), connectionFrom(args[1]));
  } else {
    throw new Error('usage: bench.js throughput <jobs> <concurrency> [url] | delay <jobs> [url]');
  }
  console.log(JSON.stringify(result));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
