import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import pino from 'pino'
import WebSocket, { WebSocketServer } from 'ws'
import { commandLine, OPTION_FLAGS } from '../src/cli-options.js'
import { encodeMessages } from '../src/index.js'
import { resolveOptions } from '../src/options.js'
import { VERSION } from '../src/version.js'
import { connectProxy, freePort, range, startServer, waitFor } from './helpers.js'

const CLI = 'dist/cjs/cli.js'
const TLS = join(import.meta.dirname, 'fixtures', 'tls')

/** Run the CLI to its end; stdin is `input` (then closed). */
async function runCli (args: string[], { input = '', env = {} }: { input?: string, env?: Record<string, string> } = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  child.stdin.end(input)
  const [code] = await once(child, 'exit') as [number]
  return { code, stdout, stderr }
}

/** A receive process listening on a free port, its output collected. */
async function startReceiver (args: string[] = []): Promise<{ port: number, stdout: () => string, stderr: () => string, stop: () => Promise<number> }> {
  const port = await freePort()
  const child = spawn(process.execPath, [CLI, 'receive', '--port', String(port), ...args])
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  await waitFor(() => stderr.includes('listening'), 'the receiver to listen')
  return {
    port,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop () {
      child.kill('SIGTERM')
      const [code] = await once(child, 'exit') as [number]
      return code
    }
  }
}

/** What a receive process started with `args` prints for `data` sent to it, once `until` shows in it. */
async function receiveOnce (args: string[], data: string | Uint8Array, until: string): Promise<string> {
  const receiver = await startReceiver(args)
  const client = new WebSocket(`ws://127.0.0.1:${receiver.port}/`)
  await once(client, 'open')
  client.send(data)
  await waitFor(() => receiver.stdout().includes(until), 'the records')
  client.close()
  await receiver.stop()
  return receiver.stdout()
}

/** A valid value for every option, as text on a command line. */
const SAMPLES: Record<string, string | undefined> = {
  url: undefined, // given by each case
  host: undefined,
  port: undefined,
  uri: undefined,
  tls: undefined,
  headers: 'Authorization Bearer abc',
  protocols: 'logs.v1',
  format: 'json_lines',
  jsonDateKey: '@timestamp',
  jsonDateFormat: 'iso8601',
  gelfShortMessageKey: 'msg',
  gelfFullMessageKey: 'stack',
  gelfHostKey: 'hostname',
  gelfLevelKey: 'severity',
  gelfTimestampKey: 'ts',
  maxMessageBytes: '65536',
  maxQueueBytes: '1048576',
  overflow: 'drop_newest',
  delivery: 'at-most-once',
  connectTimeout: '3000',
  pingInterval: '5000',
  pongTimeout: '2000',
  reconnectDelay: '100',
  maxReconnectDelay: '2000',
  closeTimeout: '1000',
  keepaliveIdleTimeout: '60000',
  fallbackFile: '/tmp/pino-websocket-lost.ndjson',
  spool: '/tmp/pino-websocket-spool',
  maxSpoolBytes: '500M',
  spoolFsyncInterval: '1000',
  rejectUnauthorized: 'false',
  ca: join(TLS, 'ca.pem'),
  cert: join(TLS, 'client.pem'),
  key: join(TLS, 'client.key'),
  pfx: undefined, // not with cert and key: its own case below
  passphrase: undefined,
  servername: 'logs.example.com',
  minVersion: 'TLSv1.3',
  ciphers: 'TLS_AES_256_GCM_SHA384',
  proxy: 'http://127.0.0.1:3128',
  quiet: undefined
}

describe('pino-websocket CLI', () => {
  test('pipe mode sends every JSON line on stdin, skips the rest, and exits 0 at end of input', async () => {
    const server = await startServer({ format: 'json_lines', jsonDateFormat: 'epoch_ms' })
    const lines = range(100).map((seq) => JSON.stringify({ level: 30, time: 1700000000000 + seq, seq }))
    // pino with isoTime writes the time as a date string.
    lines.push(JSON.stringify({ level: 30, time: '2023-11-14T22:13:20.500Z', seq: 100 }), 'not json')
    const { code, stderr } = await runCli(['--url', server.url, '--format', 'json_lines', '--date-format', 'epoch_ms'], { input: lines.join('\n') + '\n' })
    assert.equal(code, 0, stderr)
    assert.deepEqual(server.events.map((e) => e.record.seq), range(101))
    assert.equal(server.events[5].time.sec * 1000 + server.events[5].time.nsec / 1e6, 1700000000005, 'time comes from pino\'s time')
    assert.equal(server.events[100].time.sec * 1000 + server.events[100].time.nsec / 1e6, 1700000000500, 'an ISO time is read too')
    assert.match(stderr, /skipped 1 line\(s\) that could not be encoded \(the first: .*JSON.*\)/)
    assert.doesNotMatch(stderr, /fallback/i, 'a line that cannot be encoded has nothing to keep: no fallback advice')
    await server.close()
  })

  test('pipe mode in msgpack: the lines\' bytes are transcoded, what arrives is the records', async () => {
    const server = await startServer()
    const lines = range(50).map((seq) => JSON.stringify({ level: 30, time: 1700000000000, seq, text: `é ${seq} 😀` }))
    const { code, stderr } = await runCli(['--url', server.url, '--verbose'], { input: lines.join('\r\n') })
    assert.equal(code, 0, stderr)
    assert.match(stderr, /pino-websocket: connected to ws:\/\/127\.0\.0\.1:\d+\//, '--verbose says when it connects')
    assert.deepEqual(server.events.map((e) => e.record), range(50).map((seq) => ({ level: 30, time: 1700000000000, seq, text: `é ${seq} 😀` })))
    await server.close()
  })

  test('a replayed file arrives whole: stdin waits while the server is away and the queue is full', async () => {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'pino-ws-cli-'))
    const file = join(dir, 'lost.ndjson')
    writeFileSync(file, range(20_000).map((seq) => JSON.stringify({ level: 30, time: 1700000000000, seq, pad: 'x'.repeat(100) })).join('\n') + '\n')
    const child = spawn('bash', ['-c', `exec "${process.execPath}" ${CLI} --port ${port} --format json_lines --max-queue-bytes 262144 --max-message-bytes 65536 --reconnect-delay 50 --max-reconnect-delay 200 --quiet < "${file}"`])
    const exited = once(child, 'exit') as Promise<[number]>
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    // 20 000 records of ~150 B are 3 MB: twelve times the queue, which could only hold them by pausing stdin.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    assert.equal(child.exitCode, null, `still waiting for the server: ${stderr}`)
    const server = await startServer({ format: 'json_lines', port })
    const [code] = await exited
    assert.equal(code, 0, stderr)
    assert.deepEqual(server.events.map((e) => e.record.seq), range(20_000))
    await server.close()
  })

  test('--overflow chooses dropping over waiting: stdin is read to its end while the server is away, drops counted, exit 1 at --give-up-after', async () => {
    const port = await freePort()
    const input = range(5000).map((seq) => JSON.stringify({ level: 30, time: 1700000000000, seq, pad: 'x'.repeat(200) })).join('\n') + '\n'
    const { code, stderr } = await runCli(['--port', String(port), '--max-queue-bytes', '65536', '--max-message-bytes', '65536', '--overflow', 'drop_oldest', '--give-up-after', '500', '--quiet'], { input })
    assert.equal(code, 1, stderr)
    assert.match(stderr, /delivered 0, dropped 5000 \(\d+ overflow, \d+ shutdown\)/)
    assert.match(stderr, /; the input was read to its end\n/)
  })

  test('--echo into a reader that goes away (| head -2): no crash, every record delivered', async () => {
    const server = await startServer({ format: 'json_lines' })
    const child = spawn(process.execPath, [CLI, '--url', server.url, '--format', 'json_lines', '--echo'])
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    let echoed = ''
    const readerGone = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        echoed += chunk.toString()
        if (echoed.split('\n').length > 2) {
          child.stdout.destroy()
          resolve()
        }
      })
    })
    child.stdin.write(range(2).map((seq) => JSON.stringify({ level: 30, time: 1700000000000, seq }) + '\n').join(''))
    await readerGone
    for (let seq = 2; seq < 2000; seq += 100) {
      child.stdin.write(range(Math.min(100, 2000 - seq)).map((i) => JSON.stringify({ level: 30, time: 1700000000000, seq: seq + i }) + '\n').join(''))
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    child.stdin.end()
    const [code] = await once(child, 'exit') as [number]
    assert.equal(code, 0, stderr)
    assert.doesNotMatch(stderr, /EPIPE|Error/)
    assert.deepEqual(server.events.map((e) => e.record.seq), range(2000))
    await server.close()
  })

  test('SIGTERM mid-stream: what was read is delivered, then exit 143', async () => {
    const server = await startServer({ format: 'json_lines' })
    const child = spawn(process.execPath, [CLI, '--url', server.url, '--format', 'json_lines'])
    child.stdin.write(range(10).map((seq) => JSON.stringify({ level: 30, time: 1700000000000, seq }) + '\n').join(''))
    await waitFor(() => server.events.length === 10, 'ten records')
    child.kill('SIGTERM')
    const [code] = await once(child, 'exit') as [number]
    assert.equal(code, 143)
    assert.deepEqual(server.events.map((e) => e.record.seq), range(10))
    await server.close()
  })

  test('--version, --help (every flag and gelf in it), and usage mistakes exit 2 with one line', async () => {
    assert.equal((await runCli(['--version'])).stdout, `${VERSION}\n`)
    const help = (await runCli(['--help'])).stdout
    for (const { flag } of OPTION_FLAGS) assert.ok(help.includes(`--${flag}`), flag)
    assert.match(help, /gelf/)
    for (const args of [['--port', '80a'], ['--bogus'], ['sned', '--url', 'ws://x'], ['--config', '/nonexistent.json']]) {
      const { code, stderr } = await runCli(args)
      assert.equal(code, 2, args.join(' '))
      assert.equal(stderr.trim().split('\n').length, 1, stderr)
    }
    assert.match((await runCli(['--port', '80a'])).stderr, /expected `port` to be an integer 1-65535, got `"80a"` \(string\)/)
  })

  test('every option is a flag and a PINO_WEBSOCKET_* variable, from the options table (table-driven)', () => {
    assert.equal(OPTION_FLAGS.length, Object.keys(SAMPLES).length, 'a sample for every option')
    const base = ['--url', 'wss://logs.example.com/ingest']
    for (const { option, flag, env, kind } of OPTION_FLAGS) {
      const sample = SAMPLES[option]
      if (sample === undefined && kind !== 'flag') continue
      const args = kind === 'flag' ? [`--${flag}`] : [`--${flag}`, sample as string]
      const fromFlag = commandLine([...base, ...args], {}).options
      const fromEnv = commandLine(base, { [env]: kind === 'flag' ? 'true' : sample }).options
      const expected = kind === 'flag' ? true : kind === 'list' ? [sample] : sample
      assert.deepEqual(fromFlag[option], expected, flag)
      assert.deepEqual(fromEnv[option], kind === 'flag' ? 'true' : expected, env)
      // A certificate and its key go together.
      const pair = option === 'cert' ? ['--key', SAMPLES.key as string] : option === 'key' ? ['--cert', SAMPLES.cert as string] : []
      if (option !== 'tls') resolveOptions(commandLine([...base, ...args, ...pair], {}).options)
    }
    // The endpoint in parts, and the options that go together.
    resolveOptions(commandLine(['--host', 'logs', '--port', '8443', '--uri', '/in', '--tls'], {}).options)
    resolveOptions(commandLine([...base, '--pfx', join(TLS, 'client.p12'), '--passphrase', 'pa55phrase'], {}).options)
    assert.equal(commandLine([...base, '--insecure'], {}).options.rejectUnauthorized, false)
    // A repeatable option from the environment: one value per line.
    assert.deepEqual(commandLine(base, { PINO_WEBSOCKET_HEADER: 'A 1\nB 2\n' }).options.headers, ['A 1', 'B 2'])
  })

  test('the README lists every flag with its variable', () => {
    const readme = readFileSync('README.md', 'utf8')
    for (const { flag, env } of OPTION_FLAGS) assert.match(readme, new RegExp(`\\| \`--${flag}( [^\`]*)?\` \\| \`${env}\` \\|`), flag)
  })

  test('--config: JSON, a Fluent Bit [OUTPUT] section (classic and YAML); the environment beats the file, flags beat both', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pino-ws-config-'))
    const json = join(dir, 'options.json')
    writeFileSync(json, JSON.stringify({ url: 'ws://a.example/', format: 'gelf', maxQueueBytes: 2048 }))
    const classic = join(dir, 'fluent-bit.conf')
    writeFileSync(classic, [
      '[SERVICE]', '    Flush 1', '',
      '[OUTPUT]', '    Name  stdout', '    Match *', '',
      '[OUTPUT]', '    Name              websocket', '    Match             *', '    Host              logs.example.com',
      '    Port              8443', '    URI               /ingest', '    Format            json_lines', '    tls               On',
      '    Header            Authorization Bearer ${TOKEN}', '    Header            X-Team ops', '    json_date_key     ts',
      '    net.connect_timeout 3', ''
    ].join('\n'))
    const yaml = join(dir, 'fluent-bit.yaml')
    writeFileSync(yaml, [
      'pipeline:', '  inputs:', '    - name: stdin', '  outputs:', '    - name: stdout', '      match: "*"',
      '    - name: websocket', '      match: "*"', '      host: logs.example.com', '      port: 8080',
      "      format: 'json'  # a comment", '      json_date_format: iso8601', '      header:', '        - Authorization Bearer ${TOKEN}',
      '        - X-Team ops', '      json_date_key: ts', ''
    ].join('\n'))

    const fromJson = commandLine(['--config', json], {}).options
    assert.deepEqual(fromJson, { url: 'ws://a.example/', format: 'gelf', maxQueueBytes: 2048 })
    const fromClassic = resolveOptions(commandLine(['--config', classic], { TOKEN: 's3cret' }).options)
    assert.equal(fromClassic.url, 'wss://logs.example.com:8443/ingest')
    assert.equal(fromClassic.format, 'json_lines')
    assert.deepEqual(fromClassic.headers, { Authorization: 'Bearer s3cret', 'X-Team': 'ops' })
    assert.equal(fromClassic.jsonDateKey, 'ts')
    assert.equal(fromClassic.connectTimeout, 3000)
    assert.throws(() => commandLine(['--config', classic], {}), /uses \$\{TOKEN\}, which is not set/)
    const fromYaml = resolveOptions(commandLine(['--config', yaml], { TOKEN: 's3cret' }).options)
    assert.equal(fromYaml.url, 'ws://logs.example.com:8080/')
    assert.equal(fromYaml.format, 'json')
    assert.equal(fromYaml.jsonDateFormat, 'iso8601')
    // `header:` as a YAML list, as Fluent Bit's documentation writes it; the keys after it still count.
    assert.deepEqual(fromYaml.headers, { Authorization: 'Bearer s3cret', 'X-Team': 'ops' })
    assert.equal(fromYaml.jsonDateKey, 'ts')

    const layered = commandLine(['--config', json, '--format', 'msgpack'], { PINO_WEBSOCKET_FORMAT: 'json', PINO_WEBSOCKET_MAX_QUEUE_BYTES: '4096' }).options
    assert.equal(layered.format, 'msgpack', 'a flag beats the environment and the file')
    assert.equal(layered.maxQueueBytes, '4096', 'the environment beats the file')
    // A Fluent Bit name in the file and our name on the command line are one option.
    assert.equal(resolveOptions(commandLine(['--config', classic, '--port', '9000'], { TOKEN: 't' }).options).url, 'wss://logs.example.com:9000/ingest')
  })

  test('--dry-run prints the options resolved, without a secret', async () => {
    const { code, stdout, stderr } = await runCli(['--dry-run', '--url', 'wss://user:pa55word@logs.example.com/in?token=qu3ry', '--header', 'Authorization: Bearer t0ken', '--pfx', join(TLS, 'client.p12')],
      { env: { PINO_WEBSOCKET_PASSPHRASE: 'pa55phrase', PINO_WEBSOCKET_FORMAT: 'gelf' } })
    assert.equal(code, 0, stderr)
    const printed = JSON.parse(stdout) as Record<string, unknown>
    assert.equal(printed.endpoint, 'wss://logs.example.com/in')
    assert.equal(printed.format, 'gelf')
    assert.deepEqual(printed.headers, ['Authorization'])
    for (const secret of ['pa55word', 'qu3ry', 't0ken', 'pa55phrase']) assert.ok(!stdout.includes(secret), secret)
  })

  test('receive prints the records as pino wrote them (pipe it into pino-pretty), and a summary on exit', async () => {
    const receiver = await startReceiver()
    const dir = mkdtempSync(join(tmpdir(), 'pino-ws-receive-'))
    const file = join(dir, 'pino.ndjson')
    const transport = pino.transport({
      targets: [
        { target: 'pino-websocket', options: { port: receiver.port, format: 'json_lines' } },
        { target: 'pino/file', options: { destination: file } }
      ]
    })
    const logger = pino(transport)
    for (const seq of range(3)) logger.info({ seq, nested: { a: [1, 'two'] } }, `record ${seq}`)
    logger.error(new Error('boom'))
    await new Promise((resolve) => { transport.once('close', resolve); transport.end() })
    await waitFor(() => receiver.stdout().split('\n').length > 4, 'four records printed')
    assert.equal(await receiver.stop(), 0)
    const wrote = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as unknown)
    assert.deepEqual(receiver.stdout().trim().split('\n').map((line) => JSON.parse(line) as unknown), wrote)
    assert.match(receiver.stderr(), /received 4 record\(s\) in \d+ message\(s\), \d+ bytes, on 1 connection\(s\)/)
  })

  test('receive survives what clients send: msgpack in a text frame (Fluent Bit) decodes; a garbage frame closes that connection only', async () => {
    const receiver = await startReceiver(['--events'])
    const url = `ws://127.0.0.1:${receiver.port}/`
    const [message] = encodeMessages([{ time: { sec: 1700000000, nsec: 5 }, record: { seq: 1 } }])
    const first = new WebSocket(url)
    await once(first, 'open')
    first.send(message.data, { binary: false })
    await waitFor(() => receiver.stdout().includes('"seq":1'), 'the text-frame msgpack record')
    first.send(Buffer.from('zzz not a message'))
    const [closeCode] = await once(first, 'close') as [number]
    assert.equal(closeCode, 1007)
    // A frame that breaks the protocol (an unmasked client frame) closes its connection too.
    const raw = new WebSocket(url)
    await once(raw, 'open')
    const socket = (raw as unknown as { _socket: import('node:net').Socket })._socket
    socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]))
    await once(raw, 'close')
    const second = new WebSocket(url)
    await once(second, 'open')
    second.send(encodeMessages([{ time: { sec: 1700000001, nsec: 0 }, record: { seq: 2 } }], { format: 'json_lines' })[0].data)
    await waitFor(() => receiver.stdout().includes('"seq":2'), 'the next connection\'s record')
    second.close()
    assert.equal(await receiver.stop(), 0)
    const events = receiver.stdout().trim().split('\n').map((line) => JSON.parse(line) as { time: unknown, record: unknown })
    assert.deepEqual(events, [{ time: { sec: 1700000000, nsec: 5 }, record: { seq: 1 } }, { time: { sec: 1700000001, nsec: 0 }, record: { seq: 2 } }])
    assert.match(receiver.stderr(), /undecodable message .* closing that connection/)
    assert.match(receiver.stderr(), /1 undecodable message/)
  })

  test('receive: a busy port, a bad port or format, a bad date option exit 2 with one line', async () => {
    const busy = createNetServer().listen(0, '127.0.0.1')
    await once(busy, 'listening')
    const port = (busy.address() as AddressInfo).port
    const cases: Array<[string[], RegExp]> = [
      [['receive', '--port', String(port)], /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/],
      [['receive', '--port', 'abc'], /--port must be an integer 0-65535/],
      [['receive', '--port', '0', '--format', 'xml'], /--format must be one of auto, msgpack/],
      [['receive', '--port', '0', '--date-format', 'weekly'], /jsonDateFormat/]
    ]
    for (const [args, expected] of cases) {
      const { code, stderr } = await runCli(args)
      assert.equal(code, 2, args.join(' '))
      assert.match(stderr, expected)
      assert.equal(stderr.trim().split('\n').length, 1, stderr)
    }
    busy.close()
  })

  test('receive prints the event time as pino\'s `time` when the record has none: Fluent Bit\'s json_lines, a custom date key in iso8601', async () => {
    const fluentBit = await receiveOnce(['--format', 'json_lines'], '{"date":1700000000.5,"log":"x"}\n{"date":1700000001.25,"time":"own","log":"y"}\n', '"y"')
    assert.deepEqual(fluentBit.trim().split('\n').map((l) => JSON.parse(l) as unknown), [{ time: 1700000000500, log: 'x' }, { time: 'own', log: 'y' }])

    const iso = await receiveOnce(['--format', 'json_lines', '--date-key', 'ts', '--date-format', 'iso8601'], '{"ts":"2023-11-14T22:13:20.250Z","level":30,"msg":"m"}\n', '"m"')
    assert.deepEqual(JSON.parse(iso), { time: 1700000000250, level: 30, msg: 'm' })
  })

  test('receive honours --date-key and --date-format: the record\'s own time, not the time of receipt', async () => {
    const data = encodeMessages([{ time: { sec: 1700000000, nsec: 250000000 }, record: { seq: 1 } }], { format: 'json_lines', jsonDateKey: 'ts', jsonDateFormat: 'epoch_ms' })[0].data
    const printed = await receiveOnce(['--format', 'json_lines', '--date-key', 'ts', '--date-format', 'epoch_ms', '--events'], data, 'seq')
    assert.deepEqual(JSON.parse(printed), { time: { sec: 1700000000, nsec: 250000000 }, record: { seq: 1 } })
  })

  test('TLS and proxy flags: --ca, --proxy with credentials, --quiet: records reach a wss:// server through the tunnel', async () => {
    const dir = join(import.meta.dirname, 'fixtures', 'tls')
    const https = createHttpsServer({ key: readFileSync(join(dir, 'self-signed.key')), cert: readFileSync(join(dir, 'self-signed.pem')) })
    const wss = new WebSocketServer({ server: https })
    const seqs: number[] = []
    wss.on('connection', (socket) => socket.on('message', (data: Buffer) => {
      for (const line of data.toString().trim().split('\n')) seqs.push((JSON.parse(line) as { seq: number }).seq)
    }))
    https.listen(0, '127.0.0.1')
    await once(https, 'listening')
    const proxy = await connectProxy('cli:pr0xyPw')
    const url = `wss://127.0.0.1:${(https.address() as AddressInfo).port}/`
    const child = spawn(process.execPath, [CLI, '--url', url, '--format', 'json_lines', '--ca', join(dir, 'self-signed.pem'), '--proxy', `http://cli:pr0xyPw@127.0.0.1:${proxy.port}`, '--quiet'],
      { env: { ...process.env, NODE_DEBUG: 'pino-websocket' } })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    for (const seq of range(20)) child.stdin.write(JSON.stringify({ level: 30, time: 1700000000000, seq }) + '\n')
    child.stdin.end()
    const [code] = await once(child, 'exit') as [number]
    assert.equal(code, 0, output)
    assert.deepEqual(seqs, range(20))
    assert.equal(proxy.tunnels.length, 1)
    assert.match(output, /through the proxy http:\/\/127\.0\.0\.1:\d+\//)
    assert.ok(!output.includes('pr0xyPw') && !output.includes(Buffer.from('cli:pr0xyPw').toString('base64')), output)
    proxy.close()
    wss.close()
    https.close()
  })

})
