#!/usr/bin/env node
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { WebSocketServer } from 'ws'
import { Client } from './client.js'
import { decodeMessage } from './encoders/decode.js'
import { timeOf } from './encoders/dates.js'
import { resolveOptions, type Options } from './options.js'

const USAGE = `Usage:
  node app.js | pino-websocket --url ws://host:port/path [options]
  pino-websocket receive [--port 8080] [--host 127.0.0.1] [--format auto]

Send options:
  --url URL            ws://, wss:// or websocket:// endpoint
  --host, --port, --uri  the endpoint in parts (instead of --url)
  --format NAME        msgpack (default), json, json_stream, json_lines
  --date-key NAME      json_date_key (default date; "false" for none)
  --date-format NAME   double (default), epoch, epoch_ms, iso8601, java_sql_timestamp
  --header "Name value"  an upgrade request header; may be repeated
  --protocol NAME      a WebSocket subprotocol to offer; may be repeated
  --ca PATH            a certificate authority to trust (PEM or DER file, or a directory); may be repeated
  --cert PATH, --key PATH  a client certificate and its key (mutual TLS)
  --pfx PATH           a client certificate and key as a PKCS#12 bundle
  --passphrase TEXT    the passphrase of --key or --pfx (PINO_WEBSOCKET_PASSPHRASE keeps it out of ps)
  --servername NAME    the TLS server name, when it differs from the host
  --min-version V      the oldest TLS version: TLSv1.2 or TLSv1.3
  --insecure           do not verify the server's certificate
  --proxy URL          an HTTP proxy (http://[user:pass@]host:port), or "env" for HTTPS_PROXY/HTTP_PROXY
  --quiet              print no warnings
  --echo               also copy stdin to stdout

Receive mode prints each record it decodes as one JSON line.`

/** Entry point; returns the process exit code. */
async function main (argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      uri: { type: 'string' },
      format: { type: 'string' },
      'date-key': { type: 'string' },
      'date-format': { type: 'string' },
      header: { type: 'string', multiple: true },
      protocol: { type: 'string', multiple: true },
      ca: { type: 'string', multiple: true },
      cert: { type: 'string' },
      key: { type: 'string' },
      pfx: { type: 'string' },
      passphrase: { type: 'string' },
      servername: { type: 'string' },
      'min-version': { type: 'string' },
      insecure: { type: 'boolean' },
      proxy: { type: 'string' },
      quiet: { type: 'boolean' },
      echo: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) {
    process.stdout.write(USAGE + '\n')
    return 0
  }
  if (positionals[0] === 'receive') return receive(values.host ?? '127.0.0.1', Number(values.port ?? 8080), values.format)
  if (positionals.length > 0) throw new TypeError(`pino-websocket: unknown command \`${positionals[0]}\`\n${USAGE}`)
  const options: Options = {
    url: values.url,
    host: values.host,
    port: values.port,
    uri: values.uri,
    format: values.format as Options['format'],
    jsonDateKey: values['date-key'],
    jsonDateFormat: values['date-format'] as Options['jsonDateFormat'],
    headers: values.header,
    protocols: values.protocol,
    ca: values.ca,
    cert: values.cert,
    key: values.key,
    pfx: values.pfx,
    passphrase: values.passphrase ?? process.env.PINO_WEBSOCKET_PASSPHRASE,
    servername: values.servername,
    minVersion: values['min-version'] as Options['minVersion'],
    rejectUnauthorized: values.insecure === true ? false : undefined,
    proxy: values.proxy,
    quiet: values.quiet
  }
  return send(options, values.echo === true)
}

/** Pipe mode: every JSON line on stdin becomes a record; other lines are counted and skipped. */
async function send (options: Options, echo: boolean): Promise<number> {
  const resolved = resolveOptions(options)
  const connection = new Client(resolved)
  if (!resolved.quiet) connection.on('warn', ({ message }) => process.stderr.write(`pino-websocket: ${message}\n`))
  connection.on('drop', ({ reason, count }) => process.stderr.write(`pino-websocket: dropped ${count} record(s): ${reason}\n`))
  // A second signal (or the first when stdin is still open) ends the pipe: deliver what we have, then stop.
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
  process.once('SIGTERM', () => lines.close())
  process.once('SIGINT', () => lines.close())
  let skipped = 0
  for await (const line of lines) {
    if (echo) process.stdout.write(line + '\n')
    let record: unknown
    try {
      record = JSON.parse(line)
    } catch {
      record = undefined
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      skipped++
      continue
    }
    connection.write({ time: timeOf((record as { time?: unknown }).time), record: record as Record<string, unknown> })
  }
  await connection.close()
  const stats = connection.stats()
  const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0)
  if (skipped > 0 || dropped > 0) process.stderr.write(`pino-websocket: delivered ${stats.delivered}, dropped ${dropped}, skipped ${skipped} non-JSON line(s)\n`)
  return dropped > 0 ? 1 : 0
}

/** Receive mode: a server that prints what it decodes, for checking a setup. */
async function receive (host: string, port: number, format: string | undefined): Promise<number> {
  const server = new WebSocketServer({ host, port })
  await new Promise((resolve) => server.once('listening', resolve))
  const address = server.address()
  process.stderr.write(`pino-websocket: listening on ws://${host}:${typeof address === 'object' && address !== null ? address.port : port}\n`)
  server.on('connection', (socket) => {
    socket.on('message', (data) => {
      try {
        for (const { time, record } of decodeMessage(data as Buffer, { format: (format ?? 'auto') as 'auto' })) {
          process.stdout.write(JSON.stringify({ time, record }) + '\n')
        }
      } catch (error) {
        process.stderr.write(`pino-websocket: undecodable message: ${(error as Error).message}\n`)
      }
    })
  })
  await new Promise((resolve) => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve) })
  server.close()
  return 0
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (error: Error) => {
  process.stderr.write(`${error.message}\n`)
  process.exitCode = 2
})
