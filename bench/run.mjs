// npm run bench [-- --quick]: end-to-end records/s of pino-websocket against
// baselines measured in the same run, on the same records (bench/records.mjs):
// pino -> pino/file to /dev/null, pino -> pino-socket (TCP), a raw ws client with
// pre-encoded batches, pino -> pino-websocket in every format, winston -> Stream
// to /dev/null and winston -> pino-websocket; then latency at 5 000 records/s and
// producer RSS through a 20 s outage. Each case is a producer process and a
// counting receiver process. Prints a table and writes bench/results.json.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { createInterface } from 'node:readline'
import { freeport } from './freeport.mjs'

const quick = process.argv.includes('--quick')
const REPS = quick ? 1 : 5
const ALL_COUNTS = quick ? { '100B': 20_000, '250B': 20_000, '4KiB': 2_000 } : { '100B': 300_000, '250B': 200_000, '4KiB': 30_000 }
const ALL_CASES = ['pino-file', 'pino-socket', 'raw-ws', 'pino-ws-json_lines', 'pino-ws-json', 'pino-ws-json_stream', 'pino-ws-msgpack', 'pino-ws-gelf', 'winston-stream', 'winston-ws']
// A partial run, e.g. to compare one change: BENCH_SIZES=250B BENCH_CASES=pino-socket,pino-ws-msgpack.
// The baselines each ratio needs are always kept.
const pick = (all, list, keep = []) => list === undefined ? all : all.filter((name) => list.split(',').includes(name) || keep.includes(name))
const COUNTS = Object.fromEntries(pick(Object.keys(ALL_COUNTS), process.env.BENCH_SIZES).map((size) => [size, ALL_COUNTS[size]]))
const CASES = pick(ALL_CASES, process.env.BENCH_CASES, ['pino-file', 'pino-socket', 'winston-stream'])
const PARTIAL = process.env.BENCH_SIZES !== undefined || process.env.BENCH_CASES !== undefined
const here = new URL('.', import.meta.url).pathname

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

async function runCase (kase, size, count, ws, tcp) {
  const target = kase === 'pino-socket' ? tcp : ws
  const ended = kase === 'pino-file' || kase === 'winston-stream' ? null : target.next()
  const producer = start('producer.mjs', [kase, size, String(count), String(target.port)])
  const what = `${size} ${kase}`
  const result = await deadline(producer.next(), 120_000, what, producer.child)
  await once(producer.child, 'exit')
  const end = ended === null ? result.done : (await deadline(ended, 60_000, `${what} (receiver)`)).end
  const seconds = (end - result.start) / 1000
  const workerMicros = result.mainCpuMicros === null ? null : result.cpuMicros - result.mainCpuMicros
  return { rate: count / seconds, cpuPerRecord: result.cpuMicros / count, workerCpuPerRecord: workerMicros === null ? null : workerMicros / count }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const ws = await receiver()
const tcp = await receiver('--tcp')
process.on('exit', () => { ws.child.kill(); tcp.child.kill() })
const results = { machine: { node: process.version, cpus: cpus().length, model: cpus()[0]?.model }, quick, reps: REPS, throughput: {}, latency: null, memory: null }
// Repetitions go round every case in turn, so a slow spell of the machine costs
// every case alike rather than all the repetitions of one.
const HAS_WORKER = (kase) => kase.startsWith('pino')
for (const size of Object.keys(COUNTS)) {
  const runs = Object.fromEntries(CASES.map((kase) => [kase, []]))
  for (let rep = 0; rep < REPS; rep++) {
    for (const kase of CASES) runs[kase].push(await runCase(kase, size, COUNTS[size], ws, tcp))
  }
  results.throughput[size] = {}
  for (const kase of CASES) {
    const rates = runs[kase].map((r) => r.rate)
    const worker = runs[kase].map((r) => r.workerCpuPerRecord)
    results.throughput[size][kase] = {
      median: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
      cpuMicrosPerRecord: median(runs[kase].map((r) => r.cpuPerRecord)),
      workerCpuMicrosPerRecord: HAS_WORKER(kase) && !worker.includes(null) ? median(worker) : null
    }
    process.stderr.write(`${size} ${kase}: ${Math.round(median(rates))} records/s\n`)
  }
}
ws.child.kill()
tcp.child.kill()
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
        'x pino/file': ratio(size, kase, 'pino-file').toFixed(2),
        'x pino-socket': ratio(size, kase, 'pino-socket').toFixed(2),
        'cpu us/rec': r.cpuMicrosPerRecord.toFixed(2),
        'worker us/rec': r.workerCpuMicrosPerRecord === null ? '' : r.workerCpuMicrosPerRecord.toFixed(2)
      })
    }
  }
  return table
}

if (PARTIAL) {
  console.log(`pino-websocket benchmarks (partial): node ${process.version}, ${REPS} repetition(s)`)
  console.table(throughputTable())
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
async function outage (target) {
  const seconds = quick ? 3 : 20
  const app = spawn(process.execPath, [here + '../test/fixtures/pino-app.mjs'], {
    env: { ...process.env, PORT: String(await freeport()), MODE: 'outage', RATE: '10000', SECONDS: String(seconds), TARGET: target },
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
}

// Ratios and goals (issue 5).
const goals = []
for (const size of Object.keys(COUNTS)) {
  const want = { 'pino-ws-json_lines': 0.95, 'pino-ws-json': 0.9, 'pino-ws-json_stream': 0.9, 'pino-ws-msgpack': 0.9, 'pino-ws-gelf': 0.85 }
  for (const [kase, goal] of Object.entries(want)) {
    goals.push({ size, goal: `${kase} >= ${goal} x pino-file`, ratio: ratio(size, kase, 'pino-file'), met: ratio(size, kase, 'pino-file') >= goal })
    goals.push({ size, goal: `${kase} >= 1.0 x pino-socket`, ratio: ratio(size, kase, 'pino-socket'), met: ratio(size, kase, 'pino-socket') >= 1 })
  }
  goals.push({ size, goal: 'winston-ws >= 0.9 x winston-stream', ratio: ratio(size, 'winston-ws', 'winston-stream'), met: ratio(size, 'winston-ws', 'winston-stream') >= 0.9 })
}
goals.push({ size: '250B', goal: 'latency p99 <= 5 ms at 5 000 records/s', ratio: results.latency.p99, met: results.latency.p99 <= 5 })
const memoryLimit = results.memory.maxQueueBytes + 30 * 1024 * 1024
goals.push({ size: '250B', goal: 'outage RSS growth <= maxQueueBytes + 30 MiB', ratio: results.memory.growth / memoryLimit, met: results.memory.growth <= memoryLimit })
results.goals = goals
writeFileSync(here + 'results.json', JSON.stringify(results, null, 2) + '\n')

console.log(`pino-websocket benchmarks: node ${process.version}, ${results.machine.cpus} x ${results.machine.model}, ${REPS} repetition(s)${quick ? ' (quick)' : ''}`)
console.table(throughputTable())
console.log(`latency at 5 000 records/s: p50 ${results.latency.p50.toFixed(2)} ms, p99 ${results.latency.p99.toFixed(2)} ms, max ${results.latency.max.toFixed(2)} ms (${results.latency.records} records)`)
const MiB = (n) => (n / 1048576).toFixed(1)
console.log(`outage ${results.memory.seconds} s at 10 000 records/s: RSS ${MiB(results.memory.baseline)} -> ${MiB(results.memory.peak)} MiB (+${MiB(results.memory.growth)}; pino/file under the same load +${MiB(results.memory.pinoFileGrowth)}), ${results.memory.dropped} of ${results.memory.logged} dropped`)
console.table(goals.map((g) => ({ size: g.size, goal: g.goal, value: g.ratio.toFixed(3), met: g.met ? 'yes' : 'no' })))
