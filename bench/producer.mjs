// One benchmark case in its own process. argv: case, size, count, port.
// Prints {"start": t0, "done": t1, "cpu": {...}} where t0 is just before the first
// log call and t1 when the producer's own side is finished (for the /dev/null
// baselines, the end of the run).
import { once } from 'node:events'
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import pino from 'pino'
import winston from 'winston'
import WebSocket from 'ws'
import { encodeMessages } from '../dist/esm/index.js'
import { WebSocketTransport } from '../dist/esm/winston.js'
import { RECORDS } from './records.mjs'

const [given, size, countText, portText] = process.argv.slice(2)
// `@loop`: every record logged in one synchronous loop (the second method: total CPU per record shows directly).
const loop = given.endsWith('@loop')
// `@steady`: a fifth of the records are logged and flushed first (V8 compiles, the
// connection and the queue settle), and CPU is counted over the rest only.
const steady = given.endsWith('@steady')
const kase = given.replace(/@(loop|steady)$/, '')
const count = Number(countText)
const port = Number(portText)
const record = RECORDS[size]
const here = new URL('.', import.meta.url).pathname
const now = () => performance.timeOrigin + performance.now()
// pino unrefs its worker: without this, awaiting the transport's 'close' would let the process end first.
const keepAlive = setInterval(() => {}, 1000)
/**
 * CPU of the main thread alone, in µs: Linux's /proc/thread-self/stat, in clock
 * ticks of 10 ms (Node 20 has no per-thread CPU call); null elsewhere.
 */
function mainThreadMicros () {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return null
  }
}
let cpuAtStart
let mainAtStart
/** Records logged after begin(): all of them, or those after the warm-up. */
let counted = count
/** The time of the first log call; CPU is counted from here, after startup and connecting. */
const begin = () => {
  cpuAtStart = process.cpuUsage()
  mainAtStart = mainThreadMicros()
  return now()
}
// CPU of the whole process (main thread, pino's worker, helper threads) since
// begin(), and of the main thread alone: the difference is the worker's side.
const report = (what) => {
  const cpu = process.cpuUsage(cpuAtStart)
  const main = mainAtStart === null ? null : mainThreadMicros() - mainAtStart
  process.stdout.write(JSON.stringify({ ...what, counted, cpuMicros: cpu.user + cpu.system, mainCpuMicros: main }) + '\n')
}
const { level: _level, time: _time, pid, hostname, ...fields } = record

// Records are logged in bursts, one burst per turn of the event loop, as a server
// logs while it handles requests. thread-stream hands the worker what was written
// only between turns: one synchronous loop of every call would leave the worker
// idle until the loop ends, then add all of its time after the main thread's.
const BURST = 100
const turn = () => new Promise(setImmediate)

async function pinoRun (transport, make = pino) {
  const logger = make({ base: { pid, hostname } }, transport)
  await once(transport, 'ready')
  const warm = steady ? Math.floor(count / 5) : 0
  for (let i = 0; i < warm; i++) {
    logger.info(fields)
    if (i % BURST === BURST - 1) await turn()
  }
  if (warm > 0) await new Promise((resolve) => logger.flush(resolve))
  const start = begin()
  counted = count - warm
  for (let i = warm; i < count - 1; i++) {
    logger.info(fields)
    if (!loop && i % BURST === BURST - 1) await turn()
  }
  logger.info({ ...fields, msg: 'END' })
  return { logger, start }
}

if (kase === 'pino-file') {
  const transport = pino.transport({ target: 'pino/file', options: { destination: '/dev/null' } })
  const { start } = await pinoRun(transport)
  transport.end()
  await once(transport, 'close')
  report({ start, done: now() })
} else if (kase === 'pino-socket') {
  const transport = pino.transport({ target: 'pino-socket', options: { address: '127.0.0.1', port, mode: 'tcp' } })
  const { start } = await pinoRun(transport)
  transport.end()
  await once(transport, 'close')
  report({ start })
} else if (kase.startsWith('pino-ws-')) {
  // `+spool`: the same case with a spool in a fresh directory (removed afterwards).
  const [format, spooled] = kase.slice('pino-ws-'.length).split('+')
  const spool = spooled === 'spool' ? join(mkdtempSync(join(tmpdir(), 'pino-websocket-bench-')), 'spool') : undefined
  const transport = pino.transport({ target: '../dist/cjs/index.js', options: spool === undefined ? { port, format } : { port, format, spool } })
  const { start } = await pinoRun(transport)
  transport.end()
  await once(transport, 'close')
  if (spool !== undefined) rmSync(dirname(spool), { recursive: true, force: true })
  report({ start })
} else if (kase.startsWith('noop-')) {
  // The transport base (see bench/noop-transport.mjs), through one pino major's worker:
  // `noop-abstract-pino8` is a no-op on the pino-abstract-transport pino 8 ships with.
  const [, base, major] = /^noop-(abstract|raw)-(pino8|pino9|pino10)$/.exec(kase)
  // pino 8 and 9 are installed under npm aliases (devDependencies pino8, pino9).
  const name = major === 'pino10' ? 'pino' : major
  const { default: logger } = await import(name)
  const abstract = base === 'raw' ? undefined : createRequire(createRequire(import.meta.url).resolve(`${name}/package.json`)).resolve('pino-abstract-transport')
  const transport = logger.transport({ target: here + 'noop-transport.mjs', options: { abstract } })
  const { start } = await pinoRun(transport, logger)
  transport.end()
  await once(transport, 'close')
  report({ start, done: now() })
} else if (kase === 'raw-ws') {
  // The network ceiling: records pre-encoded as json_lines, sent as 64 KiB messages.
  const events = Array.from({ length: count }, (_, i) => ({ time: { sec: 1700000000, nsec: 0 }, record: i === count - 1 ? { ...record, msg: 'END' } : record }))
  const messages = encodeMessages(events, { format: 'json_lines', maxMessageBytes: 64 * 1024 })
  const socket = new WebSocket(`ws://127.0.0.1:${port}`)
  await once(socket, 'open')
  const start = begin()
  for (const message of messages) socket.send(message.data)
  await new Promise((resolve) => socket.send(Buffer.alloc(0), resolve))
  report({ start })
  socket.close()
} else if (kase === 'winston-stream' || kase.startsWith('winston-ws')) {
  const spool = kase === 'winston-ws+spool' ? join(mkdtempSync(join(tmpdir(), 'pino-websocket-bench-')), 'spool') : undefined
  const transport = kase === 'winston-stream'
    ? new winston.transports.Stream({ stream: createWriteStream('/dev/null') })
    : new WebSocketTransport({ port, wireFormat: 'json_lines', ...(spool === undefined ? {} : { spool }), ...(kase === 'winston-ws+app' ? { worker: false } : {}) })
  if (kase !== 'winston-stream') await once(transport, 'open')
  const logger = winston.createLogger({ format: winston.format.json(), transports: [transport] })
  const start = begin()
  for (let i = 0; i < count - 1; i++) {
    logger.info(fields.msg, fields)
    if (i % BURST === BURST - 1) await turn()
  }
  logger.info('END', fields)
  logger.end()
  await once(transport, 'finish')
  if (spool !== undefined) rmSync(dirname(spool), { recursive: true, force: true })
  report({ start, done: now() })
} else if (kase === 'latency') {
  // A steady 5 000 records/s with default options (json_lines to read the timestamps).
  const transport = pino.transport({ target: '../dist/cjs/index.js', options: { port, format: 'json_lines' } })
  const logger = pino(transport)
  await once(transport, 'open')
  const rate = 5000
  const started = begin()
  let sent = 0
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(count, Math.floor((now() - started) / 1000 * rate))
      while (sent < due) {
        sent++
        logger.info({ ...fields, sent: now(), msg: sent === count ? 'END' : fields.msg })
      }
      if (sent >= count) { clearInterval(timer); resolve() }
    }, 1)
  })
  transport.end()
  await once(transport, 'close')
  report({ start: started })
} else {
  throw new Error(`unknown case ${kase}`)
}
clearInterval(keepAlive)
