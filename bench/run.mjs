// npm run bench [-- --quick]: end-to-end records/s of pino-websocket against
// baselines measured in the same run, on the same records (bench/records.mjs):
// pino -> pino/file to /dev/null, pino -> pino-socket (TCP), a raw ws client with
// pre-encoded batches, pino -> pino-websocket in every format, winston -> Stream
// to /dev/null and winston -> pino-websocket; then latency at 5 000 records/s and
// producer RSS through a 20 s outage. Each case is a producer process and a
// counting receiver process. Prints a table and writes bench/results.json.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { freeport } from './freeport.mjs'

const quick = process.argv.includes('--quick')
const REPS = quick ? 1 : 5
const ALL_COUNTS = quick ? { '100B': 20_000, '250B': 20_000, '4KiB': 2_000 } : { '100B': 300_000, '250B': 200_000, '4KiB': 30_000 }
// `@raw`: the same case against a minimal WebSocket receiver (frame headers only, no
// unmasking, no UTF-8 check), so that the receiver's own work takes less CPU from
// the producer on a small machine.
const ALL_CASES = ['pino-file', 'pino-socket', 'raw-ws', 'pino-ws-json_lines', 'pino-ws-json', 'pino-ws-json_stream', 'pino-ws-msgpack', 'pino-ws-gelf',
  'pino-ws-json_lines@raw', 'pino-ws-msgpack@raw', 'winston-stream', 'winston-ws', 'winston-ws@raw',
  // `@loop`: the producer logs every record in one synchronous loop instead of bursts.
  'pino-file@loop', 'pino-socket@loop', 'pino-ws-json_lines@loop', 'pino-ws-msgpack@loop', 'pino-ws-json@loop', 'pino-ws-gelf@loop',
  // `+spool`: with the durable spool on (issue 20), set beside the same case without it.
  'pino-ws-json_lines+spool', 'pino-ws-msgpack+spool', 'pino-ws-json_lines+spool@loop', 'pino-ws-msgpack+spool@loop', 'winston-ws+spool',
  // `+app`: winston's engine on the app's thread (`worker: false`), beside the worker that is its default.
  'winston-ws+app']
// A partial run, e.g. to compare one change: BENCH_SIZES=250B BENCH_CASES=pino-socket,pino-ws-msgpack.
// The baselines each ratio needs are always kept.
const pick = (all, list, keep = []) => list === undefined ? all : all.filter((name) => list.split(',').includes(name) || keep.includes(name))
const COUNTS = Object.fromEntries(pick(Object.keys(ALL_COUNTS), process.env.BENCH_SIZES).map((size) => [size, ALL_COUNTS[size]]))
const CASES = pick(ALL_CASES, process.env.BENCH_CASES, ['pino-file', 'pino-socket', 'winston-stream', ...(process.env.BENCH_CASES?.includes('@loop') ? ['pino-file@loop'] : [])])
const PARTIAL = process.env.BENCH_SIZES !== undefined || process.env.BENCH_CASES !== undefined
const here = new URL('.', import.meta.url).pathname
const now = () => performance.timeOrigin + performance.now()

/** A child process whose stdout is JSON lines, read one at a time. */
function start (file, args) {
  const child = spawn(process.execPath, [here + file, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  return { child, next: async () => JSON.parse((await lines.next()).value) }
}

async function receiver (...flags) {
  const process = start('receiver.mjs', flags)
  const { port } = await process.next()
  return { ...process, port }
}

/** Reject after `ms`: a case that hangs fails the run with its name instead of stalling it. */
function deadline (promise, ms, what, child) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => { child?.kill(); reject(new Error(`bench: ${what} did not finish within ${ms / 1000} s`)) }, ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function runCase (kase, size, count, ws, tcp, raw) {
  const base = kase.replace(/@\w+$/, '')
  // The /dev/null baselines and the transport base's no-ops have no receiver: their run ends in the producer.
  const target = base === 'pino-file' || base === 'winston-stream' || base.startsWith('noop-') ? null : base === 'pino-socket' ? tcp : kase.endsWith('@raw') ? raw : ws
  const ended = target === null ? null : target.next()
  const producer = start('producer.mjs', [/@(loop|steady)$/.test(kase) ? kase : base, size, String(count), String(target?.port ?? 0)])
  const what = `${size} ${kase}`
  const result = await deadline(producer.next(), 120_000, what, producer.child)
  await once(producer.child, 'exit')
  const received = ended === null ? { end: result.done } : await deadline(ended, 60_000, `${what} (receiver)`)
  const seconds = (received.end - result.start) / 1000
  const workerMicros = result.mainCpuMicros === null ? null : result.cpuMicros - result.mainCpuMicros
  let counted = result.counted ?? count
  if (received.lost) {
    // Only pino-socket: see bench/receiver.mjs. Its rate counts the records that came.
    process.stderr.write(`${what}: ${count - received.lines} of ${count} records never came (the transport closed its socket before writing them); timed to the connection's close\n`)
    counted -= count - received.lines
  }
  return {
    rate: counted / seconds,
    cpuPerRecord: result.cpuMicros / counted,
    appCpuPerRecord: result.mainCpuMicros === null ? null : result.mainCpuMicros / counted,
    workerCpuPerRecord: workerMicros === null ? null : workerMicros / counted
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const ws = await receiver()
const tcp = await receiver('--tcp')
const raw = await receiver('--raw')
process.on('exit', () => { ws.child.kill(); tcp.child.kill(); raw.child.kill() })
const results = { machine: { node: process.version, cpus: cpus().length, model: cpus()[0]?.model }, quick, reps: REPS, throughput: {}, latency: null, memory: null }
// Repetitions go round every case in turn, so a slow spell of the machine costs
// every case alike rather than all the repetitions of one.
const HAS_WORKER = (kase) => kase.startsWith('pino') || kase === 'winston-ws' || kase === 'winston-ws@raw'
for (const size of Object.keys(COUNTS)) {
  const runs = Object.fromEntries(CASES.map((kase) => [kase, []]))
  for (let rep = 0; rep < REPS; rep++) {
    for (const kase of CASES) runs[kase].push(await runCase(kase, size, COUNTS[size], ws, tcp, raw))
  }
  results.throughput[size] = {}
  for (const kase of CASES) {
    const rates = runs[kase].map((r) => r.rate)
    const worker = runs[kase].map((r) => r.workerCpuPerRecord)
    const app = runs[kase].map((r) => r.appCpuPerRecord)
    results.throughput[size][kase] = {
      median: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
      cpuMicrosPerRecord: median(runs[kase].map((r) => r.cpuPerRecord)),
      // The app's (main) thread alone: what a log call costs the app.
      appCpuMicrosPerRecord: app.includes(null) ? null : median(app),
      workerCpuMicrosPerRecord: HAS_WORKER(kase) && !worker.includes(null) ? median(worker) : null
    }
    process.stderr.write(`${size} ${kase}: ${Math.round(median(rates))} records/s\n`)
  }
}
ws.child.kill()
tcp.child.kill()

// The CLI's pipe mode: an NDJSON file of pino lines (~256 B) on stdin, to the minimal
// receiver; first frame to last as the receiver saw them, and the CLI's wall time.
// With FLUENT_BIT=path, the same file through Fluent Bit's stdin -> websocket output.
if (process.env.BENCH_CLI !== '0') {
  const lines = quick ? 50_000 : 1_000_000
  const file = join(tmpdir(), `pino-websocket-bench-${process.pid}.ndjson`)
  // pino's line of a short record, padded to 256 bytes with its line feed.
  const lineOf = (msg) => {
    const head = '{"level":30,"time":1700000000000,"pid":4242,"hostname":"bench-host","pad":"'
    const tail = `","msg":"${msg}"}\n`
    return head + 'x'.repeat(256 - head.length - tail.length) + tail
  }
  const body = lineOf('request completed')
  writeFileSync(file, body.repeat(lines - 1) + lineOf('END'))
  results.cli = { lines, lineBytes: body.length }
  const senders = [['pino-websocket json_lines', ['dist/cjs/cli.js', '--format', 'json_lines']], ['pino-websocket msgpack', ['dist/cjs/cli.js']]]
  for (const [name, args] of senders) {
    const ended = raw.next()
    const startedAt = now()
    const sender = spawn(process.execPath, [...args, '--port', String(raw.port), '--quiet'], { stdio: [openSync(file, 'r'), 'ignore', 'inherit'], cwd: here + '..' })
    const [code] = await once(sender, 'exit')
    const wall = now() - startedAt
    const { first, end } = await deadline(ended, 120_000, `${name} (receiver)`)
    results.cli[name] = { code, recordsPerSecond: lines / ((end - first) / 1000), firstToLastMs: end - first, wallMs: wall }
    process.stderr.write(`cli ${name}: ${Math.round(lines / ((end - first) / 1000))} records/s first frame to last, wall ${Math.round(wall)} ms\n`)
  }
  if (process.env.FLUENT_BIT !== undefined) {
    // Not run where this was written (no fluent-bit binary there): the same measurement, for comparison.
    const ended = raw.next()
    const startedAt = now()
    const fluentBit = spawn(process.env.FLUENT_BIT, ['-q', '-i', 'stdin', '-o', 'websocket', '-p', 'host=127.0.0.1', '-p', `port=${raw.port}`, '-p', 'format=json_lines', '-p', 'match=*'],
      { stdio: [openSync(file, 'r'), 'ignore', 'inherit'] })
    const { first, end } = await deadline(ended, 300_000, 'fluent-bit (receiver)')
    fluentBit.kill('SIGTERM')
    results.cli['fluent-bit json_lines'] = { recordsPerSecond: lines / ((end - first) / 1000), firstToLastMs: end - first, wallMs: now() - startedAt }
  }
  unlinkSync(file)
}
raw.child.kill()
const ratio = (size, kase, base) => results.throughput[size][kase].median / results.throughput[size][base].median
function throughputTable () {
  const table = []
  for (const size of Object.keys(COUNTS)) {
    for (const kase of CASES) {
      const r = results.throughput[size][kase]
      table.push({
        size,
        case: kase,
        'records/s': Math.round(r.median),
        spread: `${Math.round(r.min)}-${Math.round(r.max)}`,
        // A one-loop case is set beside pino/file logging the same way.
        'x pino/file': ratio(size, kase, kase.endsWith('@loop') && CASES.includes('pino-file@loop') ? 'pino-file@loop' : 'pino-file').toFixed(2),
        'x pino-socket': ratio(size, kase, kase.endsWith('@loop') && CASES.includes('pino-socket@loop') ? 'pino-socket@loop' : 'pino-socket').toFixed(2),
        'cpu us/rec': r.cpuMicrosPerRecord.toFixed(2),
        'app us/rec': r.appCpuMicrosPerRecord === null ? '' : r.appCpuMicrosPerRecord.toFixed(2),
        'worker us/rec': r.workerCpuMicrosPerRecord === null ? '' : r.workerCpuMicrosPerRecord.toFixed(2)
      })
    }
  }
  return table
}

function cliTable () {
  if (results.cli === undefined) return
  console.log(`CLI pipe mode, ${results.cli.lines} lines of ${results.cli.lineBytes} B from a file:`)
  console.table(Object.fromEntries(Object.entries(results.cli).filter(([, v]) => typeof v === 'object').map(([name, r]) => [name, {
    'records/s (first frame to last)': Math.round(r.recordsPerSecond), 'first to last ms': Math.round(r.firstToLastMs), 'wall ms': Math.round(r.wallMs)
  }])))
}

// Steady state (issue 21): the worker's CPU per record over a long run, after a
// warm-up, so that V8's compiling and the run's fixed costs stop hiding the
// per-record cost. Runs in a partial run only with BENCH_STEADY=1.
if (!PARTIAL || process.env.BENCH_STEADY === '1') {
  const steadyCases = { '250B': ['pino-socket', 'pino-ws-json_lines', 'pino-ws-msgpack'], '4KiB': ['pino-ws-json_lines', 'pino-ws-msgpack'] }
  const steadyCounts = quick ? { '250B': 20_000, '4KiB': 2_000 } : { '250B': 1_000_000, '4KiB': 200_000 }
  const ws = await receiver()
  const tcp = await receiver('--tcp')
  process.on('exit', () => { ws.child.kill(); tcp.child.kill() })
  results.steady = {}
  for (const [size, cases] of Object.entries(steadyCases)) {
    const runs = Object.fromEntries(cases.map((kase) => [kase, []]))
    for (let rep = 0; rep < (quick ? 1 : 3); rep++) {
      for (const kase of cases) runs[kase].push(await runCase(`${kase}@steady`, size, steadyCounts[size], ws, tcp, null))
    }
    results.steady[size] = Object.fromEntries(cases.map((kase) => [kase, {
      records: steadyCounts[size] - Math.floor(steadyCounts[size] / 5),
      workerCpuMicrosPerRecord: median(runs[kase].map((r) => r.workerCpuPerRecord)),
      recordsPerSecond: median(runs[kase].map((r) => r.rate))
    }]))
    for (const kase of cases) process.stderr.write(`steady ${size} ${kase}: worker ${results.steady[size][kase].workerCpuMicrosPerRecord?.toFixed(2)} µs/record\n`)
  }
  ws.child.kill()
  tcp.child.kill()
}
function steadyTable () {
  if (results.steady === undefined) return
  console.log('Steady state: worker CPU per record after a warm-up of a fifth of the records (median of the repetitions):')
  console.table(Object.entries(results.steady).flatMap(([size, cases]) => Object.entries(cases).map(([kase, r]) => ({
    size, case: kase, records: r.records, 'worker us/rec': r.workerCpuMicrosPerRecord?.toFixed(2), 'records/s': Math.round(r.recordsPerSecond)
  }))))
}

// The transport base: pino-websocket's destination is a raw Writable, not one built on
// pino-abstract-transport, for speed. Kept tested against every pino major claimed: a
// no-op transport on the pino-abstract-transport each major ships with (in its cheapest
// mode, `parse: 'lines'`) against a no-op raw Writable, 250 B records, bursty producer.
// Runs in a partial run only with BENCH_BASE=1.
if (!PARTIAL || process.env.BENCH_BASE === '1') {
  const count = quick ? 20_000 : 200_000
  const cases = ['pino8', 'pino9', 'pino10'].flatMap((major) => [`noop-raw-${major}`, `noop-abstract-${major}`])
  const runs = Object.fromEntries(cases.map((kase) => [kase, []]))
  for (let rep = 0; rep < REPS; rep++) {
    for (const kase of cases) runs[kase].push(await runCase(kase, '250B', count, null, null, null))
  }
  results.transportBase = Object.fromEntries(['pino8', 'pino9', 'pino10'].map((major) => {
    const raw = median(runs[`noop-raw-${major}`].map((r) => r.rate))
    const abstract = median(runs[`noop-abstract-${major}`].map((r) => r.rate))
    process.stderr.write(`transport base ${major}: pino-abstract-transport ${(abstract / raw).toFixed(2)} x a raw Writable\n`)
    return [major, { raw, abstract, ratio: abstract / raw }]
  }))
}
function transportBaseTable () {
  if (results.transportBase === undefined) return
  console.log('Transport base: a no-op transport, records/s through each pino major\'s worker (250 B, median of the repetitions):')
  console.table(Object.entries(results.transportBase).map(([major, r]) => ({
    pino: major, 'raw Writable': Math.round(r.raw), 'pino-abstract-transport (lines)': Math.round(r.abstract), 'abstract x raw': r.ratio.toFixed(2)
  })))
}

if (PARTIAL) {
  console.log(`pino-websocket benchmarks (partial): node ${process.version}, ${REPS} repetition(s)`)
  console.table(throughputTable())
  steadyTable()
  transportBaseTable()
  cliTable()
  process.exit(0)
}

// Latency: default options, a steady 5 000 records/s, json_lines so the receiver reads each `sent`.
{
  const latencyReceiver = await receiver('--latency')
  const count = quick ? 5_000 : 25_000
  const ended = latencyReceiver.next()
  const producer = start('producer.mjs', ['latency', '250B', String(count), String(latencyReceiver.port)])
  await producer.next()
  const { delays } = await ended
  const sorted = delays.sort((a, b) => a - b)
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
  results.latency = { records: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] }
  latencyReceiver.child.kill()
}

// Memory: the producer's peak RSS while the server is down, 10 000 records/s, default
// maxQueueBytes; and, as a baseline, the same app logging to /dev/null through pino/file.
async function outage (target, spool) {
  const seconds = quick ? 3 : 20
  const app = spawn(process.execPath, [here + '../test/fixtures/pino-app.mjs'], {
    env: { ...process.env, PORT: String(await freeport()), MODE: 'outage', RATE: '10000', SECONDS: String(seconds), TARGET: target, ...(spool === undefined ? {} : { SPOOL: spool }) },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let out = ''
  app.stdout.on('data', (chunk) => { out += chunk })
  await once(app, 'exit')
  return { seconds, ...JSON.parse(out) }
}
{
  const file = await outage('pino/file')
  const { seconds, baseline, peak, logged, stats } = await outage('pino-websocket')
  results.memory = {
    seconds,
    maxQueueBytes: 32 * 1024 * 1024,
    baseline,
    peak,
    growth: peak - baseline,
    pinoFileGrowth: file.peak - file.baseline,
    logged,
    dropped: stats.dropped.overflow
  }
  // With a spool, the backlog waits on disk: the growth is set beside pino/file's.
  const dir = mkdtempSync(join(tmpdir(), 'pino-websocket-bench-'))
  const spooled = await outage('pino-websocket', join(dir, 'spool'))
  rmSync(dir, { recursive: true, force: true })
  results.memory.spool = { growth: spooled.peak - spooled.baseline, logged: spooled.logged, pending: spooled.stats.pending, dropped: spooled.stats.dropped.overflow }
}

// Ratios and goals. Issue 21's: bursty, every JSON format and msgpack 0.90 x pino/file
// (gelf 0.80); one loop at 250 B, json_lines, json and msgpack 0.95 (gelf 0.85). Issue 5's and
// 12's, kept: 1.0 x pino-socket, and the worker's CPU per record at most 1.2 x pino-socket's.
const goals = []
for (const size of Object.keys(COUNTS)) {
  const want = { 'pino-ws-json_lines': 0.9, 'pino-ws-json': 0.9, 'pino-ws-json_stream': 0.9, 'pino-ws-msgpack': 0.9, 'pino-ws-gelf': 0.8 }
  for (const [kase, goal] of Object.entries(want)) {
    goals.push({ size, goal: `${kase} >= ${goal} x pino-file`, ratio: ratio(size, kase, 'pino-file'), met: ratio(size, kase, 'pino-file') >= goal })
    goals.push({ size, goal: `${kase} >= 1.0 x pino-socket`, ratio: ratio(size, kase, 'pino-socket'), met: ratio(size, kase, 'pino-socket') >= 1 })
  }
  if (size !== '100B') {
    for (const kase of ['pino-ws-json_lines', 'pino-ws-msgpack']) {
      const worker = results.throughput[size][kase].workerCpuMicrosPerRecord / results.throughput[size]['pino-socket'].workerCpuMicrosPerRecord
      goals.push({ size, goal: `${kase} worker us/rec <= 1.2 x pino-socket's`, ratio: worker, met: worker <= 1.2 })
    }
  }
  // Issue 21: winston's transport as cheap for the app as winston's Stream, in records/s and on the app's thread.
  goals.push({ size, goal: 'winston-ws >= 0.95 x winston-stream (records/s)', ratio: ratio(size, 'winston-ws', 'winston-stream'), met: ratio(size, 'winston-ws', 'winston-stream') >= 0.95 })
  const appCpu = (kase) => results.throughput[size][kase].appCpuMicrosPerRecord
  if (appCpu('winston-ws') !== null && appCpu('winston-stream') !== null) {
    const value = appCpu('winston-stream') / appCpu('winston-ws')
    goals.push({ size, goal: 'winston-ws >= 0.95 x winston-stream (app thread: stream us/rec / ours)', ratio: value, met: value >= 0.95 })
  }
}
for (const [kase, goal] of Object.entries({ 'pino-ws-json_lines@loop': 0.95, 'pino-ws-json@loop': 0.95, 'pino-ws-msgpack@loop': 0.95, 'pino-ws-gelf@loop': 0.85 })) {
  const value = ratio('250B', kase, 'pino-file@loop')
  goals.push({ size: '250B', goal: `${kase} >= ${goal} x pino-file@loop`, ratio: value, met: value >= goal })
}
for (const size of Object.keys(COUNTS).filter((name) => name === '250B')) {
  for (const kase of ['pino-ws-json_lines', 'pino-ws-msgpack', 'pino-ws-json_lines@loop', 'pino-ws-msgpack@loop']) {
    const spooled = kase.replace(/(@loop)?$/, '+spool$1')
    const value = ratio(size, spooled, kase)
    goals.push({ size, goal: `${spooled} >= 0.9 x ${kase}`, ratio: value, met: value >= 0.9 })
  }
}
const spoolLimit = results.memory.pinoFileGrowth + 8 * 1024 * 1024
goals.push({ size: '250B', goal: 'outage RSS growth with a spool <= pino/file\'s + 8 MiB', ratio: results.memory.spool.growth / spoolLimit, met: results.memory.spool.growth <= spoolLimit })
goals.push({ size: '250B', goal: 'latency p99 <= 5 ms at 5 000 records/s', ratio: results.latency.p99, met: results.latency.p99 <= 5 })
if (results.steady?.['250B'] !== undefined && results.steady['250B']['pino-socket'].workerCpuMicrosPerRecord !== null) {
  const at = (size, kase) => results.steady[size][kase].workerCpuMicrosPerRecord
  const socket = at('250B', 'pino-socket')
  goals.push({ size: '250B', goal: 'steady worker us/rec json_lines <= 1.5 x pino-socket\'s', ratio: at('250B', 'pino-ws-json_lines') / socket, met: at('250B', 'pino-ws-json_lines') <= 1.5 * socket })
  goals.push({ size: '250B', goal: 'steady worker us/rec msgpack <= 2.0 x pino-socket\'s', ratio: at('250B', 'pino-ws-msgpack') / socket, met: at('250B', 'pino-ws-msgpack') <= 2 * socket })
  goals.push({ size: '4KiB', goal: 'steady worker us/rec msgpack <= 1.5 x json_lines\'', ratio: at('4KiB', 'pino-ws-msgpack') / at('4KiB', 'pino-ws-json_lines'), met: at('4KiB', 'pino-ws-msgpack') <= 1.5 * at('4KiB', 'pino-ws-json_lines') })
}
// The transport's share of an outage's growth (issue 21): the producer's growth less pino/file's in the same run.
results.memory.share = results.memory.growth - results.memory.pinoFileGrowth
goals.push({ size: '250B', goal: 'outage: the transport\'s share <= maxQueueBytes + 8 MiB', ratio: results.memory.share / (results.memory.maxQueueBytes + 8 * 1024 * 1024), met: results.memory.share <= results.memory.maxQueueBytes + 8 * 1024 * 1024 })
const memoryLimit = results.memory.maxQueueBytes + 30 * 1024 * 1024
goals.push({ size: '250B', goal: 'outage RSS growth <= maxQueueBytes + 30 MiB', ratio: results.memory.growth / memoryLimit, met: results.memory.growth <= memoryLimit })
if (results.cli !== undefined) {
  const cli = results.cli['pino-websocket json_lines'].recordsPerSecond
  const fluentBit = results.cli['fluent-bit json_lines']?.recordsPerSecond
  const want = fluentBit === undefined ? 460_000 : 2 * fluentBit
  goals.push({ size: '256B', goal: `CLI pipe json_lines >= ${fluentBit === undefined ? '460 000 records/s' : '2 x fluent-bit'}`, ratio: cli / want, met: cli >= want })
}
// The choice of a raw Writable holds while pino-abstract-transport is the slower base on every major.
for (const [major, r] of Object.entries(results.transportBase ?? {})) {
  goals.push({ size: '250B', goal: `transport base, ${major}: pino-abstract-transport < 1.0 x a raw Writable`, ratio: r.ratio, met: r.ratio < 1 })
}
results.goals = goals
writeFileSync(here + 'results.json', JSON.stringify(results, null, 2) + '\n')

console.log(`pino-websocket benchmarks: node ${process.version}, ${results.machine.cpus} x ${results.machine.model}, ${REPS} repetition(s)${quick ? ' (quick)' : ''}`)
console.table(throughputTable())
console.log(`latency at 5 000 records/s: p50 ${results.latency.p50.toFixed(2)} ms, p99 ${results.latency.p99.toFixed(2)} ms, max ${results.latency.max.toFixed(2)} ms (${results.latency.records} records)`)
const MiB = (n) => (n / 1048576).toFixed(1)
console.log(`outage ${results.memory.seconds} s at 10 000 records/s: RSS ${MiB(results.memory.baseline)} -> ${MiB(results.memory.peak)} MiB (+${MiB(results.memory.growth)}; pino/file under the same load +${MiB(results.memory.pinoFileGrowth)}), ${results.memory.dropped} of ${results.memory.logged} dropped`)
console.log(`outage: the transport's share ${MiB(results.memory.share)} MiB (its growth less pino/file's; maxQueueBytes is ${MiB(results.memory.maxQueueBytes)} MiB)`)
console.log(`outage with a spool: +${MiB(results.memory.spool.growth)} MiB, ${results.memory.spool.pending} of ${results.memory.spool.logged} held on disk at the end, ${results.memory.spool.dropped} dropped`)
steadyTable()
transportBaseTable()
cliTable()
console.table(goals.map((g) => ({ size: g.size, goal: g.goal, value: g.ratio.toFixed(3), met: g.met ? 'yes' : 'no' })))
