// Micro-benchmark of the encoders alone (no network): ns per record and MB/s for
// every format, from a parsed record and from pino's JSON line.
//   npm run bench:encode [-- --quick]
import { createEncoder } from '../dist/esm/index.js'
import { RecordQueue } from '../dist/esm/queue.js'
import { RECORDS } from './records.mjs'

const quick = process.argv.includes('--quick')
const COUNT = quick ? 20_000 : 200_000
const BATCH = 256
const time = { sec: 1700000000, nsec: 123456789 }

function measure (encoder, makeEvent) {
  // Warm up, then time whole batches the way the connection builds messages:
  // encode into the queue's ring, take a batch, frame it, confirm it.
  const queue = new RecordQueue(64 * 1024 * 1024, 1024 * 1024, 'drop_oldest', () => {})
  let bytes = 0
  const run = (n) => {
    for (let i = 0; i < n; i += BATCH) {
      for (let j = 0; j < BATCH; j++) queue.push(encoder.encodeRecord(makeEvent()))
      bytes += encoder.frame(queue.takeBatch(1024 * 1024, encoder.overhead)).length
      queue.confirm(queue.sentEnd)
    }
  }
  run(COUNT / 10)
  bytes = 0
  const start = process.hrtime.bigint()
  run(COUNT)
  const ns = Number(process.hrtime.bigint() - start)
  return { nsPerRecord: ns / COUNT, mbPerSecond: bytes / 1e6 / (ns / 1e9) }
}

const rows = []
for (const [size, record] of Object.entries(RECORDS)) {
  const line = JSON.stringify(record)
  for (const format of ['json_lines', 'json', 'json_stream', 'msgpack', 'gelf']) {
    const encoder = createEncoder({ format })
    const fromRecord = measure(encoder, () => ({ time, record }))
    const fromLine = measure(encoder, () => ({ time, json: line }))
    rows.push({ size, format, 'record ns': fromRecord.nsPerRecord.toFixed(0), 'line ns': fromLine.nsPerRecord.toFixed(0), 'line MB/s': fromLine.mbPerSecond.toFixed(0) })
  }
  // The baseline every JSON format pays at least once: parsing pino's line.
  const start = process.hrtime.bigint()
  for (let i = 0; i < COUNT; i++) JSON.parse(line)
  rows.push({ size, format: '(JSON.parse only)', 'record ns': '', 'line ns': (Number(process.hrtime.bigint() - start) / COUNT).toFixed(0), 'line MB/s': '' })
}
console.log(`encoders, ${COUNT} records per case, node ${process.version}`)
console.table(rows)
