#!/usr/bin/env node
import { Client, type Stats } from './client.js'
import { commandLine, usage, UsageError, type CommandLine } from './cli-options.js'
import { InvalidOptionError } from './errors.js'
import { NdjsonReader } from './ndjson.js'
import { resolveOptions, type ResolvedOptions } from './options.js'
import { receive } from './receive.js'
import { VERSION } from './version.js'

/** Exit codes; the README lists them. */
const OK = 0
const DROPPED = 1
const USAGE = 2
const SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const

/** Entry point; resolves with the process exit code. */
async function main (argv: string[]): Promise<number> {
  const line = commandLine(argv)
  switch (line.command) {
    case 'help':
      process.stdout.write(usage() + '\n')
      return OK
    case 'version':
      process.stdout.write(VERSION + '\n')
      return OK
    case 'receive':
      return receive(line.options, line.events)
    case 'send':
      return send(line)
  }
}

/**
 * Pipe mode: stdin's lines go through the same NDJSON reader as pino's output
 * (JSON lines spliced or transcoded, no parse per line). When the queue is half
 * full, stdin waits, so a replayed file arrives whole; `--overflow` chooses
 * dropping instead, for a live app that must never wait on its pipe.
 */
async function send ({ options, echo, verbose, dryRun }: CommandLine): Promise<number> {
  const resolved = resolveOptions(options)
  if (dryRun) {
    process.stdout.write(JSON.stringify(describe(resolved), null, 2) + '\n')
    return OK
  }
  const client = new Client(resolved)
  const say = (text: string): void => { process.stderr.write(`pino-websocket: ${text}\n`) }
  if (!resolved.quiet) client.on('warn', ({ message }) => say(message))
  if (verbose) {
    client.on('open', ({ endpoint }) => say(`connected to ${endpoint}`))
    client.on('disconnect', ({ endpoint, code, reason }) => say(`disconnected from ${endpoint}: ${code}${reason === '' ? '' : ` ${reason}`}`))
    client.on('reconnecting', ({ attempt, delay, error }) => say(`retry ${attempt} in ${delay} ms${error === undefined ? '' : ` (${error})`}`))
    client.on('drop', ({ reason, count, error }) => say(`dropped ${count} record(s): ${reason}${error === undefined ? '' : ` (${error})`}`))
  }
  const waitForRoom = options.overflow === undefined
  const high = Math.floor(resolved.maxQueueBytes / 2)
  const reader = new NdjsonReader(client)
  const stdin = process.stdin
  let echoing = echo
  if (echo) {
    // A closed reader (`| head`) stops the echo, never the shipping.
    process.stdout.on('error', () => { echoing = false })
  }

  const signal = await new Promise<keyof typeof SIGNALS | undefined>((resolve) => {
    const onSignal = (name: keyof typeof SIGNALS): void => {
      // The first signal ends the input: what was read is delivered (within closeTimeout). A second one ends at once.
      process.once(name, () => process.exit(SIGNALS[name]))
      stdin.destroy()
      resolve(name)
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    stdin.on('data', (chunk: Buffer) => {
      if (echoing) process.stdout.write(chunk)
      reader.write(chunk)
      if (waitForRoom && client.queuedBytes > high) {
        stdin.pause()
        void client.whenQueueBelow(high / 2).then(() => stdin.resume())
      }
    })
    stdin.once('end', () => resolve(undefined))
    stdin.once('error', () => resolve(undefined))
  })
  reader.end()
  await client.close()
  const stats = client.stats()
  const summary = summarize(stats)
  if (summary !== undefined) say(summary)
  if (signal !== undefined) return SIGNALS[signal]
  return dropped(stats) > 0 ? DROPPED : OK
}

/** Records dropped for a reason that loses data: a line that is no JSON object is skipped, not dropped. */
function dropped (stats: Stats): number {
  const { overflow, oversized, shutdown } = stats.dropped
  return overflow + oversized + shutdown
}

/** One line on stderr at the end when anything did not go through. */
function summarize (stats: Stats): string | undefined {
  const skipped = stats.dropped.unencodable
  const lost = dropped(stats)
  if (skipped === 0 && lost === 0) return undefined
  const reasons = Object.entries(stats.dropped).filter(([reason, count]) => count > 0 && reason !== 'unencodable').map(([reason, count]) => `${count} ${reason}`)
  return `delivered ${stats.delivered}, dropped ${lost}${reasons.length > 0 ? ` (${reasons.join(', ')})` : ''}, skipped ${skipped} line(s) that are not JSON objects`
}

/** The resolved options as --dry-run prints them: no secret (no userinfo or query, no header value, no key material). */
function describe (resolved: ResolvedOptions): Record<string, unknown> {
  const { url: _url, secrets: _secrets, unknownKeys, headers, tls, proxy, ...rest } = resolved
  const { ca, cert, key, pfx, passphrase, ...tlsRest } = tls
  return {
    ...rest,
    headers: Object.keys(headers),
    tls: {
      ...tlsRest,
      ca: ca === undefined ? undefined : `${ca.length} certificate(s)`,
      cert: cert === undefined ? undefined : 'given',
      key: key === undefined ? undefined : 'given',
      pfx: pfx === undefined ? undefined : 'given',
      passphrase: passphrase === undefined ? undefined : 'given'
    },
    proxy: proxy?.endpoint,
    unknownKeys
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (error: Error) => {
  process.stderr.write(`${error instanceof UsageError || error instanceof InvalidOptionError ? error.message : String(error.stack)}\n`)
  process.exitCode = USAGE
})
