// Micro-benchmark of the encoders alone (no network): ns per record and MB/s for
// every format, from a parsed record (winston's path) and from pino's JSON lines
// as pino's worker takes them (NdjsonReader: splice, transcode or parse).
//   npm run bench:encode [-- --quick]
import { createEncoder } from '../dist/esm/encoders/index.js'
import { NdjsonReader } from '../dist/esm/ndjson.js'
import { resolveEncoderOptions } from '../dist/esm/options.js'
import { RecordQueue } from '../dist/esm/queue.js'
import { RECORDS } from './records.mjs'

const quick = process.argv.includes('--quick')
const COUNT = quick ? 20_000 : 200_000
const BATCH = 256
const time = { sec: 1700000000, nsec: 123456789 }

/** What the engine does with each record, minus the network: into the queue. */
function queueSink (encoder, queue) {
  return {
    lineCodec: encoder.lineCodec,
    write: (event) => queue.push(encoder.encodeRecord(event)),
    pushEncoded: (record) => queue.push(record),
    pushSpliced: (head, source, start, end, terminator) => {
      queue.pushSpliced(head, source, start, end, terminator, head.length + end - start + (terminator === undefined ? 0 : 1))
    },
    // A run the queue cannot take at once goes one by one, as the engine does it.
    pushRun: (source, from, lengths, count, total) => {
      if (queue.pushRun(source, from, lengths, count, total)) return
      for (let i = 0, at = from; i < count; at += lengths[i++]) queue.push(source.subarray(at, at + lengths[i]))
    }
  }
}

function measure (encoder, makeFill) {
  // Warm up, then time whole batches the way the engine builds messages:
  // encode into the queue's ring, take a batch, frame it, confirm it.
  const queue = new RecordQueue(64 * 1024 * 1024, 1024 * 1024, 'drop_oldest', () => {})
  const fill = makeFill(queueSink(encoder, queue))
  let bytes = 0
  const run = (n) => {
    for (let i = 0; i < n; i += BATCH) {
      fill()
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
    const encoder = createEncoder(resolveEncoderOptions({ format }))
    const chunk = (line + '\n').repeat(BATCH)
    const fromRecord = measure(encoder, (sink) => () => { for (let j = 0; j < BATCH; j++) sink.write({ time, record }) })
    const fromLine = measure(encoder, (sink) => {
      const reader = new NdjsonReader(sink)
      return () => reader.write(chunk)
    })
    rows.push({ size, format, 'record ns': fromRecord.nsPerRecord.toFixed(0), 'line ns': fromLine.nsPerRecord.toFixed(0), 'line MB/s': fromLine.mbPerSecond.toFixed(0) })
  }
  // The baseline every JSON format pays at least once: parsing pino's line.
  const start = process.hrtime.bigint()
  for (let i = 0; i < COUNT; i++) JSON.parse(line)
  rows.push({ size, format: '(JSON.parse only)', 'record ns': '', 'line ns': (Number(process.hrtime.bigint() - start) / COUNT).toFixed(0), 'line MB/s': '' })
}
console.log(`encoders, ${COUNT} records per case, node ${process.version}`)
console.table(rows)
