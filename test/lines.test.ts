import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Client } from '../src/client.js'
import { timeFromMillis, timeOf } from '../src/encoders/dates.js'
import { LineBuffer, NdjsonReader, isCompactJson, leadingTime } from '../src/ndjson.js'
import { decodeMessage, encodeMessages, type Format } from '../src/index.js'
import { createEncoder, type LineCodec } from '../src/encoders/index.js'
import { resolveEncoderOptions, resolveOptions, type Options } from '../src/options.js'
import { freePort, prng, startServer } from './helpers.js'

const T = 1700000000123

/** Lines as pino and others write them, each with a time so the expected output is fixed. */
const LINES = [
  `{"level":30,"time":${T},"pid":1,"hostname":"h","msg":"plain"}`,
  `{"level":"info","time":${T + 1},"msg":"a level label"}`,
  `{"time":${T + 2},"msg":"time first"}`,
  `{"level":30,"time":${T + 3},"msg":"multi-byte: héllo 日本 🎉"}`,
  `{"level":30,"time":${T + 3},"date":42,"msg":"has its own date key"}`,
  `{"level":30,"time":${T + 3},"update":"date\\":","msg":"the date key's bytes in another key and in a string"}`,
  `{"level":30,"time":${T + 4},"msg":"escaped control \\u0001 and quote \\""}`,
  `{"msg":"time later","time":${T + 5}}`,
  `{"msg":"ISO time","time":"2023-11-14T22:13:20.500Z"}`,
  `{"level":30,"time":${T + 6}}`,
  `{"level":30,"time":${T + 7},"msg":"CRLF"}\r`,
  `{"level":30,"time":1.5,"msg":"fractional time"}`,
  `{"level":30,"time":1700000001,"msg":"seconds (pino's unixTime)"}`,
  `{"level":30,"time":"2023-11-14T22:13:20.123456789Z","msg":"nanoseconds (pino's isoTimeNano)"}`
]

/** What NdjsonReader must produce: the event each line makes when parsed. */
function expectedEvents (lines: string[]): Array<{ time: { sec: number, nsec: number }, json: string }> {
  return lines.map((line) => {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line
    return { time: timeOf((JSON.parse(text) as { time?: unknown }).time), json: text }
  })
}

/** Cut text into pieces at random places (whole UTF-16 units; thread-stream never splits a character). */
function chunks (text: string, seed: number): string[] {
  const pieces: string[] = []
  let at = 0
  let state = seed
  while (at < text.length) {
    state = (state * 1103515245 + 12345) % 2147483648
    let size = 1 + (state % 97)
    // Keep surrogate pairs together.
    if (at + size < text.length && /[\uD800-\uDBFF]/.test(text[at + size - 1])) size++
    pieces.push(text.slice(at, at + size))
    at += size
  }
  return pieces
}

describe('JSON lines', () => {
  test('leadingTime reads pino\'s opening time and refuses every other shape', () => {
    const cases: Array<[string, number]> = [
      [`{"level":30,"time":${T},"msg":"x"}`, T],
      [`{"level":"info","time":${T}}`, T],
      [`{"time":${T},"a":1}`, T],
      [`{"time":0}`, 0],
      [`{"level":30,"time":"${T}"}`, -1],
      [`{"level":30,"time":1.5}`, -1],
      [`{"level":30,"time":-1}`, -1],
      [`{"level":30,"time":12345678901234567}`, -1],
      [`{"level":"in\\"fo","time":${T}}`, -1],
      [`{"level":,"time":${T}}`, -1],
      [`{"msg":"x","time":${T}}`, -1],
      [` {"time":${T}}`, -1],
      ['{"time":', -1],
      ['not json', -1]
    ]
    for (const [line, ms] of cases) {
      const bytes = Buffer.from(line)
      assert.equal(leadingTime(bytes, 0, bytes.length), ms, line)
    }
  })

  test('LineBuffer gives back exactly the lines, however the text or its bytes are cut', () => {
    const text = LINES.join('\n') + '\nunfinished 日本'
    const bytes = Buffer.from(text)
    // Bytes: cut anywhere (inside a character too, as thread-stream's shared memory
    // is), and cut after line feeds (the pieces read where they are, with no copy).
    const cutBytes = (seed: number): Buffer[] => {
      const pieces: Buffer[] = []
      let at = 0
      let state = seed
      while (at < bytes.length) {
        state = (state * 1103515245 + 12345) % 2147483648
        const feed = bytes.indexOf(0x0a, at + (state % 150))
        const end = seed % 2 === 0 && feed !== -1 ? feed + 1 : Math.min(bytes.length, at + 1 + (state % 97))
        pieces.push(Buffer.from(bytes.subarray(at, end)))
        at = end
      }
      return pieces
    }
    const cuts = [1, 2, 3, 4, 5].flatMap((seed) => [chunks(text, seed), cutBytes(seed)])
    for (const [cut, pieces] of cuts.entries()) {
      const buffer = new LineBuffer()
      const got: string[] = []
      for (const piece of pieces) {
        const { bytes: lines, end } = buffer.append(piece)
        let start = 0
        while (start < end) {
          const stop = lines.indexOf(0x0a, start)
          got.push(lines.toString('utf8', start, stop))
          start = stop + 1
        }
      }
      got.push(buffer.takeRest().toString())
      assert.deepEqual(got, [...LINES, 'unfinished 日本'], `cut ${cut}`)
    }
  })

  test('LineBuffer takes chunks of any size, and tells ASCII text from other text', () => {
    const buffer = new LineBuffer()
    // Sizes around what its buffer holds, measured or not, with and without multi-byte characters.
    for (const [size, tail] of [[1, ''], [90_000, ''], [200_000, ''], [200_000, 'é'], [300_000, '日本'], [1_000_000, '😀'], [10, '']] as const) {
      const line = 'x'.repeat(size) + tail
      const { bytes, end, textStart, ascii } = buffer.append(line + '\n' + 'next')
      assert.equal(ascii, tail === '', `${size} ${tail}`)
      assert.equal(bytes.toString('utf8', 0, end), 'next'.repeat(size === 1 ? 0 : 1) + line + '\n')
      assert.equal(textStart, size === 1 ? 0 : 4)
    }
    assert.equal(buffer.takeRest().toString(), 'next')
  })

  for (const format of ['json_lines', 'json', 'json_stream', 'msgpack', 'gelf'] as Format[]) {
    test(`${format}: NdjsonReader sends what write() sends for the same lines, whatever the chunking`, async () => {
      const server = await startServer({ format })
      const connection = new Client(resolveOptions({ port: server.port, format }))
      const text = LINES.join('\n') + '\n'
      const reader = new NdjsonReader(connection)
      for (const piece of chunks(text, 7)) reader.write(piece)
      await connection.flush()
      const encoder = createEncoder(resolveEncoderOptions({ format }))
      const records = expectedEvents(LINES).map(({ time, json }) => ({ time, record: JSON.parse(json) as Record<string, unknown> }))
      const expected = encodeMessages(records, { format }).flatMap((message) => decodeMessage(message.data, { format }))
      assert.deepEqual(server.events, expected)
      if (format === 'json_lines' || format === 'json_stream') {
        // Byte for byte: the spliced bytes are the text the string path makes.
        const sent = Buffer.concat(server.messages.map((m) => m.data)).toString()
        const reference = expectedEvents(LINES).map((event) => encoder.encodeRecord(event)).join('')
        assert.equal(sent, reference)
      }
      assert.equal(connection.stats().delivered, LINES.length)
      await connection.close()
      await server.close()
    })
  }

  test('lines that are not JSON objects are dropped as unencodable; the rest flow on; the last line waits for end()', async (t) => {
    const server = await startServer({ format: 'json_lines' })
    const connection = new Client(resolveOptions({ port: server.port, format: 'json_lines' }))
    t.after(async () => {
      await connection.close()
      await server.close()
    })
    const reader = new NdjsonReader(connection)
    reader.write(`not json\n[1,2]\n{"time":${T},"seq":1}\n"text"\n{"time":${T},"bad":"\\ud800"}\n\n{}\n{"time":${T},"seq":2}`)
    await connection.flush()
    assert.deepEqual(server.events.map((e) => e.record.seq), [1, undefined, undefined])
    assert.equal(server.events[1].record.bad, '\ufffd', 'a lone surrogate becomes U+FFFD')
    reader.end()
    await connection.flush()
    assert.deepEqual(server.events.map((e) => e.record.seq), [1, undefined, undefined, 2])
    assert.ok(Math.abs(server.events[2].time.sec - Date.now() / 1000) < 5, 'a record with no time gets the time of writing')
    const stats = connection.stats()
    assert.equal(stats.dropped.unencodable, 3)
    assert.equal(stats.accepted, 7)
  })

  test('spliced records that do not fit go where write() sends them: overflow (drop_newest), oversized, shutdown, and the fallback file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pino-ws-lines-'))
    const fallbackFile = join(dir, 'fallback.ndjson')
    const port = await freePort()
    const connection = new Client(resolveOptions({ port, format: 'json_lines', maxQueueBytes: 1024, maxMessageBytes: 1024, overflow: 'drop_newest', closeTimeout: 50, fallbackFile }))
    const line = (seq: number, pad = 0): string => `{"level":30,"time":${T},"seq":${seq},"pad":"${'x'.repeat(pad)}"}`
    const reader = new NdjsonReader(connection)
    reader.write([line(0, 400), line(1, 400), line(2, 400), line(3, 1100)].join('\n') + '\n')
    const stats = connection.stats()
    assert.equal(stats.dropped.oversized, 1)
    assert.ok(stats.dropped.overflow >= 1, 'a queue of 1 KiB holds two of these records')
    await connection.close()
    reader.write(line(4) + '\n')
    const after = connection.stats()
    assert.equal(after.dropped.shutdown, 5 - after.dropped.oversized - after.dropped.overflow)
    const written = readFileSync(fallbackFile, 'utf8').trim().split('\n').map((text) => JSON.parse(text) as { seq: number, date: number })
    assert.deepEqual(written.map((r) => r.seq).sort(), [0, 1, 2, 3, 4])
    assert.ok(written.every((r) => r.date === timeFromMillis(T).sec + 0.123), 'the date is spliced in as on the wire')
  })
})

/**
 * Each record a reader queues, as bytes, in order: through the codec's takeLines
 * (runs of lines spliced in WebAssembly) or with it taken away (each line offered
 * to take(), the path every line took before), and how many came in runs.
 */
function queued (options: Options, pieces: Array<string | Buffer>, runs: boolean, framing: 'json' | 'headed' = 'json'): { records: Buffer[], inRuns: number } {
  const encoder = createEncoder(resolveEncoderOptions(options))
  const codec: LineCodec = runs ? encoder.lineCodec! : { needles: encoder.lineCodec!.needles, take: encoder.lineCodec!.take }
  const records: Buffer[] = []
  let inRuns = 0
  const sink = {
    lineCodec: codec,
    maxLineBytes: 4 * 1024 * 1024,
    dropLongLine: () => { throw new Error('no line is that long') },
    reject: (error: string) => { records.push(Buffer.from(`rejected: ${error}`)) },
    write: (event: Parameters<typeof encoder.encodeRecord>[0]) => {
      let out: string | Uint8Array
      try {
        out = encoder.encodeRecord(event)
      } catch (error) {
        out = `unencodable: ${(error as Error).message}`
      }
      records.push(Buffer.from(out))
    },
    pushEncoded: (record: Uint8Array) => { records.push(Buffer.from(record)) },
    pushSpliced: (head: Uint8Array, source: Buffer, start: number, end: number, terminator: number | undefined) => {
      records.push(Buffer.concat([head, source.subarray(start, end), terminator === undefined ? Buffer.alloc(0) : Buffer.of(terminator)]))
    },
    pushRun: (source: Uint8Array, from: number, lengths: Int32Array, count: number, total: number, longest: number) => {
      let at = from
      let most = 0
      for (let i = 0; i < count; i++) {
        records.push(Buffer.from(source.subarray(at, at + lengths[i])))
        most = Math.max(most, lengths[i])
        at += lengths[i]
      }
      assert.equal(at - from, total)
      assert.equal(most, longest)
      inRuns += count
    }
  }
  const reader = new NdjsonReader(sink, framing)
  for (const piece of pieces) reader.write(piece)
  reader.end()
  return { records, inRuns }
}

describe('runs of lines (lines.h: splice-wasm.c, msgpack-wasm.c, gelf-wasm.c) against the line path', () => {
  const random = prng(0x5b11ce)
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]
  const TEXT = ['cache hit', 'héllo 日本 🎉', 'quote \\" and backslash \\\\', 'escaped \\u00e9', 'date":1', 'a\\u0000b', '}', '{', '\\r', ' ']
  /** A line as pino writes it, or one of the shapes the runs must hand back. */
  const line = (ms: number): string => {
    const r = random()
    const msg = pick(TEXT)
    if (r < 0.55) return `{"level":30,"time":${ms},"pid":1,"hostname":"h","msg":"${msg}"}`
    if (r < 0.62) return `{"level":"info","time":${ms},"msg":"${msg}"}`
    if (r < 0.66) return `{"time":${ms}}`
    if (r < 0.68) return `{"level":30,"time":${ms},"msg":"crlf"}\r`
    if (r < 0.70) return ''
    if (r < 0.72) return `{"date":"2023-11-14T22:13:20.500000000Z","msg":"a fallback file's line"}`
    if (r < 0.74) return `{"msg":"time later","time":${ms}}`
    if (r < 0.76) return `{"level":30,"time":"${ms}"}`
    if (r < 0.78) return `{"level":30,"time":${ms},"date":"its own"}`
    if (r < 0.80) return `{"level":30,"time":${ms},"ts":"its own"}`
    if (r < 0.82) return pick(['not json', '[1,2]', '"text"', '{', '{}', '{"time":1', `{"level":30,"time":${ms},"a":1} `])
    if (r < 0.84) return `{"level":30,"time":${pick(['0', '1', '99999999999', '9999999999999999', '12345678901234567'])},"msg":"odd times"}`
    if (r < 0.86) return `{"level":30,"time":${ms},"msg":"${'x'.repeat(Math.floor(random() * 3000))}"}`
    if (r < 0.88) return `{"level":30,"time":${ms},"a":{"b":[1,2,{"c":"${msg}"}]}}`
    if (r < 0.90) return `{"level":30,"time":${ms},"x":${pick(['1.5', '-0', '1e21', '0.1', '123456789012345678', '-2.5e-7', '4294967296', '-2147483649', 'true', 'null', '[]', '{}'])}}`
    return `{"level":30,"time":${ms},"n":${Math.floor(random() * 1e6)},"msg":"${msg}"}`
  }
  /** Lines of a few milliseconds each (the head is made once a millisecond), cut as bytes or text at random places. */
  const pieces = (count: number, asBytes: boolean): Array<string | Buffer> => {
    let ms = T
    const text = Array.from({ length: count }, () => {
      if (random() < 0.1) ms += 1 + Math.floor(random() * 3)
      return line(ms)
    }).join('\n') + '\n'
    if (!asBytes) return chunks(text, Math.floor(random() * 1000))
    const bytes = Buffer.from(text)
    const cut: Buffer[] = []
    for (let at = 0; at < bytes.length;) {
      const size = 1 + Math.floor(random() * (random() < 0.5 ? 200 : 40_000))
      cut.push(bytes.subarray(at, at + size))
      at += size
    }
    return cut
  }
  const OPTIONS: Options[] = [
    { format: 'json_lines' },
    { format: 'json' },
    { format: 'json_stream' },
    { format: 'json_lines', jsonDateKey: 'ts', jsonDateFormat: 'iso8601' },
    { format: 'json', jsonDateKey: false },
    { format: 'json_stream', jsonDateFormat: 'java_sql_timestamp' },
    { format: 'json_lines', jsonDateFormat: 'epoch_ms' },
    { format: 'msgpack' },
    { format: 'gelf' },
    { format: 'gelf', gelfShortMessageKey: 'msg', gelfHostKey: 'hostname', gelfFullMessageKey: 'a', gelfTimestampKey: 'ts' }
  ]

  for (const options of OPTIONS) {
    test(`${JSON.stringify(options)}: the same records, byte for byte, on 6 000 random lines cut as text and as bytes`, (t) => {
      // A record with no time of its own gets the time of reading: the same in both readings.
      t.mock.timers.enable({ apis: ['Date'], now: T })
      for (const asBytes of [false, true]) {
        const input = pieces(3000, asBytes)
        const { records, inRuns } = queued(options, input, true)
        const reference = queued(options, input, false)
        assert.equal(reference.inRuns, 0)
        assert.equal(records.length, reference.records.length)
        for (let i = 0; i < records.length; i++) assert.deepEqual(records[i], reference.records[i], `record ${i}: ${records[i].toString()}`)
        // GELF's needle, a backslash, is in two lines of five here, and a piece mostly handed back sends the
        // next pieces to the reader whole: a fifth at least are in runs in every format.
        assert.ok(inRuns > records.length / 5, `${inRuns} of ${records.length} records in runs`)
      }
    })
  }

  test('a piece larger than the module\'s input, a line longer than it, and more records than a run holds', () => {
    const short = `{"level":30,"time":${T},"msg":"short"}`
    const long = `{"level":30,"time":${T},"msg":"${'y'.repeat(300_000)}"}`
    const text = [...Array.from({ length: 10_000 }, () => short), long, ...Array.from({ length: 10_000 }, () => short)].join('\n') + '\n'
    for (const options of [...OPTIONS.slice(0, 3), { format: 'msgpack' } as const, { format: 'gelf' } as const]) {
      const { records, inRuns } = queued(options, [text], true)
      const reference = queued(options, [text], false)
      assert.deepEqual(records, reference.records)
      assert.equal(inRuns, 20_000, 'every short line in runs, the long one by the reader')
    }
  })

  test('a string that runs to the end of its line, the last of a piece, in a new instance: handed back, the same records', (t) => {
    // msgpack's and GELF's transcoders look for a string's end past where the line ends: a quote must stop it there.
    t.mock.timers.enable({ apis: ['Date'], now: T })
    for (const format of ['msgpack', 'gelf', 'json_lines'] as const) {
      const text = `{"level":30,"time":${T},"msg":"ok"}\n{"level":30,"time":${T},"msg":"${'w'.repeat(40)}}\n`
      const { records, inRuns } = queued({ format }, [text], true)
      assert.deepEqual(records, queued({ format }, [text], false).records)
      // The JSON formats splice a line they do not read, as the line path does.
      assert.equal(inRuns, format === 'json_lines' ? 2 : 1)
    }
  })

  test('a GELF message past the room a run gives its line (names repeated in each child) goes the line path, the same bytes', () => {
    // 900 children of one parent with a long name: each child's field is named after the parent again.
    const parent = 'p'.repeat(120)
    const children = Array.from({ length: 900 }, (_, i) => `"c${i}":1`).join(',')
    const wide = `{"level":30,"time":${T},"msg":"wide","${parent}":{${children}}}`
    const short = `{"level":30,"time":${T},"msg":"short"}`
    const text = [short, wide, short].join('\n') + '\n'
    const { records, inRuns } = queued({ format: 'gelf' }, [text], true)
    assert.deepEqual(records, queued({ format: 'gelf' }, [text], false).records)
    assert.ok(records[1].length > 4 * Buffer.byteLength(wide) + 2048, `a message of ${records[1].length} bytes from a line of ${Buffer.byteLength(wide)}`)
    assert.equal(inRuns, 2, 'the short lines in runs, the wide one by the reader')
  })

  test('pieces whose lines the runs hand back go to the reader whole for a while, and runs resume when lines change', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: T })
    const piece = (msg: string): string => Array.from({ length: 10 }, () => `{"level":30,"time":${T},"msg":"${msg}"}`).join('\n') + '\n'
    // The JSON formats' needle `\u` in every line, then none: the same records either way.
    const input = [...Array.from({ length: 20 }, () => piece('caf\\u00e9')), ...Array.from({ length: 200 }, () => piece('plain'))]
    const { records, inRuns } = queued({ format: 'json_lines' }, input, true)
    assert.deepEqual(records.map(String), queued({ format: 'json_lines' }, input, false).records.map(String))
    // Runs are tried again after 1, 2, 4, … 64 pieces at most: most of the plain pieces go in runs.
    assert.ok(inRuns >= (200 - 64) * 10 && inRuns < 2000, `${inRuns} records in runs`)
  })

  test('a date key too long for the module\'s needles: every line by the line path, the same records', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: T })
    const options: Options = { format: 'json_lines', jsonDateKey: 'k'.repeat(100) }
    const input = pieces(500, false)
    const { records, inRuns } = queued(options, input, true)
    assert.equal(inRuns, 0)
    assert.deepEqual(records.map(String), queued(options, input, false).records.map(String))
  })

  test('a chunk that is not UTF-8 goes the line path, and the runs go on after it', () => {
    const good = `{"level":30,"time":${T},"msg":"ok"}\n`
    const bad = Buffer.concat([Buffer.from(`{"level":30,"time":${T},"msg":"`), Buffer.of(0xff), Buffer.from('"}\n')])
    const input = [Buffer.from(good.repeat(3)), bad, Buffer.from(good.repeat(3))]
    const { records, inRuns } = queued({ format: 'json_lines' }, input, true)
    assert.deepEqual(records.map(String), queued({ format: 'json_lines' }, input, false).records.map(String))
    assert.equal(inRuns, 6)
  })

  test('winston\'s lines (the headed framing): the same records as the line path, byte for byte, in json_lines, json, msgpack and gelf', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: T })
    const records = [
      () => JSON.stringify({ level: 'info', message: pick(TEXT), n: Math.floor(random() * 1e6) }),
      () => JSON.stringify({ message: pick(TEXT), meta: { a: [1, 'two', { three: null }], b: random() < 0.5 } }),
      () => JSON.stringify({ level: 'warn', message: 'colour \u001b[31mred\u001b[39m' }),
      () => JSON.stringify({ message: 'the date key', date: 'its own' }),
      () => JSON.stringify({ message: 'x', x: pick([1.5, -0, 1e21, 0.1, 2 ** 60, -2.5e-7]) }),
      () => pick(['{ "a": 1 }', '{not json}', 'plain text', '{}', '{"a":' + '['.repeat(70) + ']'.repeat(70) + '}', '{"a":1}x', '{"a":"\u0041"}', '{"a":"\x1b[31m"}'])
    ]
    // winston's timestamp(): the reader reads the text's time once for the lines that share it.
    const STAMPS = ['2023-11-14T22:13:20.500Z', '2023-11-14T22:13:20.501Z', '2023-11-14 22:13:20', 'not a time', '2023-11-14T22:13:20.5005Z',
      '1970-01-01T00:00:00.000Z', 'x'.repeat(64), '2023-11-14T22:13:20.500Z' + ' '.repeat(50), '1700000000000']
    const line = (ms: number): string => {
      const r = random()
      const record = pick(records)()
      if (r < 0.75) return `${ms}\t\t${record}`
      if (r < 0.77) return `${ms}\t${pick(STAMPS)}\t${record}`
      if (r < 0.80) {
        // winston's timestamp() puts the text in the record too: GELF's runs take one that repeats it.
        const stamp = pick(STAMPS)
        return `${ms}\t${stamp}\t${JSON.stringify({ level: 'info', message: 'stamped', timestamp: random() < 0.7 ? stamp : pick(STAMPS), i: 1 })}`
      }
      if (r < 0.83) return `${pick(['1700000001', `${ms}.5`, '12345678901234567', 'x1'])}\t\t${record}`
      if (r < 0.86) return `${ms}\t\t!a reason`
      if (r < 0.88) return pick(['no framing at all', `${ms}\t`, `${ms}\t\t`, ''])
      if (r < 0.90) return `${ms}\t\t${record}\r`
      return `${ms}\t\t${JSON.stringify({ level: 'info', message: 'hello', i: Math.floor(random() * 100) })}`
    }
    for (const format of ['json_lines', 'json', 'msgpack', 'gelf'] as const) {
      let ms = T
      const text = Array.from({ length: 4000 }, () => {
        if (random() < 0.1) ms += 1 + Math.floor(random() * 3)
        return line(ms)
      }).join('\n') + '\n'
      const input = chunks(text, 11)
      const { records: got, inRuns } = queued({ format }, input, true, 'headed')
      const reference = queued({ format }, input, false, 'headed')
      assert.equal(got.length, reference.records.length)
      for (let i = 0; i < got.length; i++) assert.deepEqual(got[i], reference.records[i], `${format} record ${i}: ${got[i].toString()}`)
      assert.ok(inRuns > got.length / 5, `${format}: ${inRuns} of ${got.length} records in runs`)
    }
  })

  test('winston\'s lines with timestamp text: in runs where the text\'s time is a whole millisecond from 1973 on, the same records', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: T })
    const cases: Array<[stamp: string, taken: boolean]> = [
      ['2023-11-14T22:13:20.500Z', true], ['2023-11-14T22:13:20.500+01:00', true], ['not a time', false],
      ['2023-11-14T22:13:20.5005Z', false], ['1970-01-01T00:00:00.000Z', false], ['2'.repeat(65), false]
    ]
    for (const format of ['json_lines', 'msgpack', 'gelf'] as const) {
      for (const [stamp, taken] of cases) {
        // Two stamps by turns: each change of text is read again. The record repeats it, as timestamp() makes it.
        const text = Array.from({ length: 100 }, (_, i) => {
          const own = i % 10 < 5 ? stamp : '2023-11-14T22:13:21.000Z'
          return `${T + i}\t${own}\t${JSON.stringify({ level: 'info', message: 'hello', timestamp: own })}`
        }).join('\n') + '\n'
        // Then lines with no text whose record repeats the last: their time is the epoch's, not the record's.
        const unstamped = Array.from({ length: 10 }, (_, i) => `${T + i}\t\t${JSON.stringify({ level: 'info', message: 'hello', timestamp: '2023-11-14T22:13:21.000Z' })}\n`).join('')
        const { records, inRuns } = queued({ format }, [text + unstamped], true, 'headed')
        assert.deepEqual(records, queued({ format }, [text + unstamped], false, 'headed').records, `${format}, ${stamp}`)
        // GELF's transcoders leave a `timestamp` that is not the line's text to the parse path.
        assert.equal(inRuns, (taken ? 100 : 50) + (format === 'gelf' ? 0 : 10), `${format}, ${stamp}`)
      }
    }
  })

  // Without WebAssembly (node --jitless), or without the memory for an instance, the line path does the work.
  for (const flag of ['--jitless', '--wasm-max-mem-pages=2']) {
    test(`where WebAssembly cannot run (node ${flag}), every line goes the line path`, () => {
      const script = `
        import { createEncoder } from './src/encoders/index.ts'
        import { resolveEncoderOptions } from './src/options.ts'
        const bytes = Buffer.from('{"level":30,"time":${T},"msg":"x"}\\n')
        const taken = ['json_lines', 'msgpack', 'gelf'].map((format) => createEncoder(resolveEncoderOptions({ format })).lineCodec.takeLines(bytes, 0, bytes.length, {}, () => {}))
        console.log(JSON.stringify({ taken }))`
      const child = spawnSync(process.execPath, [flag, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
      assert.equal(child.status, 0, child.stderr)
      assert.deepEqual(JSON.parse(child.stdout), { taken: [false, false, false] })
    })
  }
})

describe('isCompactJson: the check that lets a winston line skip JSON.parse in the worker', () => {
  const random = prng(0x5eed)
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]
  const CHARS = ['a', 'Z', ' ', '"', '\\', '/', '\n', '\t', '\u0001', '\u001b', 'é', '日', '🎉', '\u2028', '{', '}', '[', ']', ':', ',']
  const NUMBERS = [0, -0, 1, -1, 12.5, 1e21, 1.5e-7, -2.25e-300, 2 ** 60, 123456789]
  // Short texts, and long ones (past the 32 bytes after which a string's end is searched for natively).
  const text = (): string => Array.from({ length: Math.floor(random() * (random() < 0.2 ? 80 : 8)) }, () => pick(random() < 0.9 ? CHARS.slice(0, 2) : CHARS)).join('')
  const value = (depth: number): unknown => {
    const r = random()
    if (depth > 4 || r < 0.3) return text()
    if (r < 0.45) return pick(NUMBERS)
    if (r < 0.55) return pick([true, false, null])
    const size = Math.floor(random() * 4)
    if (r < 0.8) return Object.fromEntries(Array.from({ length: size }, () => [text(), value(depth + 1)]))
    return Array.from({ length: size }, () => value(depth + 1))
  }
  const check = (bytes: Buffer): boolean => isCompactJson(bytes, 0, bytes.length)

  test('every object JSON.stringify writes passes (so the worker splices it)', () => {
    for (let i = 0; i < 3000; i++) {
      const line = JSON.stringify(Object.fromEntries(Array.from({ length: Math.floor(random() * 6) }, () => [text(), value(0)])))
      assert.ok(check(Buffer.from(line)), line)
    }
  })

  test('nothing JSON.parse refuses passes: 20 000 lines with a byte deleted, inserted or changed', () => {
    const BYTES = Buffer.from('"\\{}[],:0123456789-.eE+tfnlu aZ\u0001')
    let passed = 0
    let failed = 0
    for (let i = 0; i < 20000; i++) {
      const line = Buffer.from(JSON.stringify({ [text()]: value(0), [text()]: value(1) }))
      const at = Math.floor(random() * line.length)
      const byte = BYTES[Math.floor(random() * BYTES.length)]
      const r = random()
      const mutated = r < 0.33
        ? Buffer.concat([line.subarray(0, at), line.subarray(at + 1)])
        : r < 0.66 ? Buffer.concat([line.subarray(0, at), Buffer.of(byte), line.subarray(at)]) : Buffer.from(line).fill(byte, at, at + 1)
      if (!check(mutated)) {
        failed++
        continue
      }
      passed++
      const parsed = JSON.parse(mutated.toString()) as unknown
      assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed), mutated.toString())
    }
    // Both sides were met: some mutations still make JSON (a digit for a digit), most do not.
    assert.ok(passed > 1000 && failed > 1000, `${passed} passed, ${failed} failed`)
  })

  test('what it leaves to JSON.parse: whitespace, deep nesting, a bare value, text after the object', () => {
    for (const line of ['{ "a":1}', '{"a": 1}', '[1]', '"x"', '{"a":1}x', '{"a":01}', '{"a":1.}', '{"a":"\\x"}', '{"a":tru}', '{"a":"\u0001"}',
      '{"a":[1}', '{"a":{"b":1]}', '{"a":1}}', '{"a":[1,]}', '{"a":1,}', '{"a":[[]}', '{"a":{}']) {
      assert.equal(check(Buffer.from(line)), false, line)
    }
    const deep = '{"a":' + '['.repeat(70) + ']'.repeat(70) + '}'
    assert.equal(check(Buffer.from(deep)), false)
    assert.ok(check(Buffer.from('{"a":' + '['.repeat(60) + ']'.repeat(60) + '}')))
    // 64 containers open at once pass; 65 are JSON.parse's.
    assert.ok(check(Buffer.from('{"a":' + '['.repeat(62) + '{}' + ']'.repeat(62) + '}')))
    assert.equal(check(Buffer.from('{"a":' + '['.repeat(63) + '{}' + ']'.repeat(63) + '}')), false)
  })
})

describe('headed lines (the winston transport\'s framing, read in its worker)', () => {
  /** What the reader hands a sink: every record as JSON text with its time, and each rejection. */
  function read (text: string): { records: Array<{ sec: number, nsec: number, json: string }>, rejected: string[] } {
    const encoder = createEncoder(resolveEncoderOptions({ format: 'json_lines', jsonDateFormat: 'iso8601' }))
    const records: Array<{ sec: number, nsec: number, json: string }> = []
    const rejected: string[] = []
    const sink = {
      lineCodec: encoder.lineCodec,
      maxLineBytes: 1024 * 1024,
      dropLongLine: () => { throw new Error('no line is that long') },
      reject: (error: string) => rejected.push(error),
      write: (event: Parameters<typeof encoder.encodeRecord>[0]) => {
        const out = encoder.encodeRecord(event)
        records.push({ ...event.time, json: (typeof out === 'string' ? out : Buffer.from(out).toString()).trimEnd() })
      },
      pushEncoded: () => { throw new Error('json_lines splices') },
      pushSpliced: (head: Uint8Array, source: Buffer, start: number, end: number) => spliced(Buffer.concat([head, source.subarray(start, end)]).toString()),
      pushRun: (source: Uint8Array, from: number, lengths: Int32Array, count: number) => {
        for (let i = 0, at = from; i < count; at += lengths[i++]) spliced(Buffer.from(source.subarray(at, at + lengths[i])).toString().trimEnd())
      }
    }
    function spliced (json: string): void {
      const date = /^\{"date":"([^"]+)"/.exec(json)?.[1] ?? ''
      const ms = Date.parse(date)
      records.push({ sec: Math.floor(ms / 1000), nsec: Number((/\.(\d+)Z$/.exec(date)?.[1] ?? '').padEnd(9, '0')), json })
    }
    const reader = new NdjsonReader(sink, 'headed')
    for (const piece of chunks(text, 7)) reader.write(piece)
    reader.end()
    return { records, rejected }
  }

  test('the event time: the epoch, or the timestamp text when it parses (to the nanosecond); the record as the app made it', () => {
    const { records, rejected } = read([
      `${T}\t\t{"message":"now"}`,
      `${T}\t2023-11-14T22:13:20.500Z\t{"message":"a timestamp"}`,
      `${T}\t2023-11-14T22:13:20.123456789Z\t{"message":"nanoseconds"}`,
      `${T}\tnot a time\t{"message":"an unreadable timestamp"}`,
      `${T}.5\t\t{"message":"a fraction of a millisecond"}`,
      '1700000001\t\t{"message":"seconds"}',
      `${T}\t\t{"message":"colour \\u001b[31mred\\u001b[39m"}`,
      `${T}\t\t{not json}`,
      `${T}\t\t!the reason`,
      'no framing at all'
    ].join('\n') + '\n')
    assert.deepEqual(records.map((r) => [r.sec, r.nsec]), [
      [1700000000, 123000000], [1700000000, 500000000], [1700000000, 123456789], [1700000000, 123000000],
      [1700000000, 123500000], [1700000001, 0], [1700000000, 123000000], [1700000000, 123000000]
    ])
    assert.deepEqual(records.map((r) => (JSON.parse(r.json) as { message: string }).message), [
      'now', 'a timestamp', 'nanoseconds', 'an unreadable timestamp', 'a fraction of a millisecond', 'seconds', 'colour red', '{not json}'
    ])
    assert.deepEqual(rejected, ['the reason', 'a line of the winston transport lost its framing'])
  })
})
